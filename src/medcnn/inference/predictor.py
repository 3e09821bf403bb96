"""The one prediction path: a file or upload → canonical pixels → probabilities, verdict, Grad-CAM.

The CLI, the notebook widget and the Streamlit app all call `predict` (or a `Predictor`), so a
user's file meets the same preprocessing as the training set and the same rules for saying
"unsure". One image is run through a `tf.function` traced once per model, not through
`model.predict`, whose per-call set-up costs far more than the network itself on a CPU.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from medcnn.config import CLASSES
from medcnn.explain.gradcam import overlay as overlay_heatmap
from medcnn.explain.traced import GradCam
from medcnn.imaging.readers import DecodedImage, ImageSource, read_image
from medcnn.io import one_line
from medcnn.modeling import artifacts
from medcnn.modeling.features import FeatureReference, load_reference, reference_path
from medcnn.modeling.forward import Forward
from medcnn.modeling.novelty import (
    NoveltyReference,
    generic_features,
    load_novelty,
    novelty_path,
)
from medcnn.modeling.unsure import UnsureRule, load_rule, rule_path, verdict

logger = logging.getLogger("medcnn.inference")


@dataclass(frozen=True)
class Prediction:
    """What the model says about one image, and how far to trust it.

    `label` is the predicted class, or None when the model is unsure or the image is unlike
    the training data; `top_class` is the best guess either way.
    """

    name: str
    probabilities: dict[str, float]
    top_class: str
    label: str | None
    pixels: np.ndarray
    overlay: np.ndarray | None
    warnings: tuple[str, ...]
    distance: float | None = None

    def summary(self) -> str:
        """One line: `lung (97%)` or `unsure (best guess lung, 52%)`."""
        share = f"{self.probabilities[self.top_class]:.0%}"
        if self.label is None:
            return f"unsure (best guess {self.top_class}, {share})"
        return f"{self.label} ({share})"

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready record without the pixel arrays."""
        return {
            "file": self.name,
            "label": self.label,
            "top_class": self.top_class,
            "probabilities": self.probabilities,
            "distance": self.distance,
            "warnings": list(self.warnings),
            "error": None,
        }


class Predictor:
    """A loaded model with its references and "unsure" rule, ready for images and studies."""

    def __init__(
        self,
        model: keras.Model,
        reference: FeatureReference | None = None,
        rule: UnsureRule | None = None,
        novelty: NoveltyReference | None = None,
    ) -> None:
        self.model = model
        self.reference = reference
        self.rule = rule or UnsureRule()
        self.novelty = novelty
        self.forward = Forward(model)
        self.dtype = self.forward.dtype

    @classmethod
    def from_file(cls, model_path: Path | str | None = None) -> Predictor:
        """Load a saved model (default: the release model), its references and its rule."""
        path = Path(model_path) if model_path is not None else artifacts.release_model_path()
        return cls(
            artifacts.load_model(path), load_reference(path), load_rule(path), load_novelty(path)
        )

    def screen(self, pixels: np.ndarray, batch_size: int = 256) -> pd.DataFrame:
        """What `classify` would decide for many images, without heatmaps.

        One row per image, as `UnsureRule.judge` gives it (`top_class`, calibrated
        `top_probability`, `distance_ratio`, `novelty_ratio`, `low_confidence`,
        `unfamiliar`, `novel`, `unsure`), and the calibrated `probabilities`.
        """
        features, probabilities = self.forward.batches(pixels, batch_size)
        frame = self.judge(pixels, features, probabilities)
        frame["probabilities"] = list(self.rule.calibrated(probabilities))
        return frame

    def judge(
        self,
        pixels: np.ndarray,
        features: np.ndarray,
        probabilities: np.ndarray,
        generic: np.ndarray | None = None,
    ) -> pd.DataFrame:
        """The rule's verdict on each image from its pixels, features and raw probabilities
        (and its generic features, when computed already)."""
        return verdict(
            self.rule, pixels, features, probabilities, self.reference, self.novelty, generic
        )

    def predict(self, source: ImageSource, name: str = "", explain: bool = True) -> Prediction:
        """Read a file or upload and classify it; raises UnusableImageError for bad input."""
        name = name or (str(source) if isinstance(source, str | Path) else "upload")
        return self.classify(read_image(source, name), name, explain)

    def classify(self, image: DecodedImage, name: str, explain: bool = True) -> Prediction:
        """Probabilities, verdict and (when `explain`) the Grad-CAM overlay of decoded pixels."""
        pixels = image.pixels[np.newaxis]
        features, probabilities, heatmap, generic, problems = self.answer(pixels, explain)
        judged = self.judge(pixels, features, probabilities, generic).iloc[0]
        calibrated = self.rule.calibrated(probabilities)[0]
        scores = {c: float(p) for c, p in zip(CLASSES, calibrated, strict=True)}
        top = int(np.argmax(calibrated))
        notes = list(image.warnings) + self.unsure_reasons(judged) + problems
        trusted = not judged["unsure"]
        distance = None if self.reference is None else float(judged["distance_ratio"])
        overlay = None if heatmap is None else overlay_heatmap(image.pixels, heatmap)
        return Prediction(
            name=name,
            probabilities=scores,
            top_class=CLASSES[top],
            label=CLASSES[top] if trusted else None,
            pixels=image.pixels,
            overlay=overlay,
            warnings=tuple(notes),
            distance=distance,
        )

    def unsure_reasons(self, verdict: pd.Series) -> list[str]:
        """Why the rule withholds the class (or that it cannot see unfamiliar images)."""
        notes = []
        if verdict["low_confidence"]:
            notes.append(
                f"the model is unsure: its top probability {verdict['top_probability']:.0%} "
                f"is below {self.rule.min_probability:.0%}"
            )
        if self.reference is None:
            notes.append(
                "this model has no out-of-distribution reference (medcnn.modeling.features): "
                "an image unlike the training data is not detected"
            )
        elif verdict["unfamiliar"]:
            notes.append(
                f"the image is unlike the training images (feature distance "
                f"{verdict['distance_ratio']:.2f}× the alarm level, above "
                f"{self.rule.max_distance_ratio:.2f}×): the class is not asserted"
            )
        if verdict["novel"]:
            notes.append(
                f"the image is unlike the training images of {verdict['top_class']} "
                f"(novelty {verdict['novelty_ratio']:.2f}, above {self.rule.max_novelty_ratio:.2f})"
                f": {verdict['top_class']} is not asserted"
            )
        return notes

    @cached_property
    def gradcam(self) -> GradCam:
        """The model's traced Grad-CAM, built on first use; ValueError for a model without one."""
        return GradCam(self.model)

    def answer(self, pixels: np.ndarray, explain: bool) -> tuple[Any, ...]:
        """Features, probabilities, the top class's heatmap and the generic features of a
        batch of one image (1, S, S), and why there is no heatmap when there is none.

        With `explain`, all come from one traced call (`explained_answer`): one forward and
        one backward pass of the model, and the novelty network beside it.
        """
        problems: list[str] = []
        if explain:
            explained, problems = self.explained(lambda: self.explained_answer(pixels))
            if explained is not None:
                features, probabilities, heatmaps, generic = explained
                return features, probabilities, heatmaps[0], generic, []
        features, probabilities = self.forward(pixels)
        return features, probabilities, None, None, problems

    @cached_property
    def explained_answer(self) -> Callable[[np.ndarray], tuple[np.ndarray, ...]]:
        """Pixels → (features, probabilities, top-class heatmaps, generic features or
        None), traced once: the model and the novelty network run in the same call."""
        forward_and_cams = self.gradcam.forward_and_cams
        generic = generic_features() if self.novelty is not None else None

        def run(images: tf.Tensor) -> tuple[tf.Tensor, ...]:
            answer = forward_and_cams(images)
            return answer if generic is None else (*answer, generic.embed(images))

        traced = tf.function(run, input_signature=[self.gradcam.signature])

        def call(pixels: np.ndarray) -> tuple[np.ndarray, ...]:
            batch = np.asarray(pixels)[..., np.newaxis].astype(self.gradcam.dtype)
            outputs = [tensor.numpy() for tensor in traced(tf.constant(batch))]
            return (*outputs, None) if generic is None else tuple(outputs)

        return call

    def heatmap_overlay(self, pixels: np.ndarray, class_index: int) -> tuple[Any, list[str]]:
        """Grad-CAM of `class_index` blended over the image, or None and why not."""
        heatmap, problems = self.explained(lambda: self.gradcam(pixels[np.newaxis], [class_index]))
        return (None, problems) if heatmap is None else (overlay_heatmap(pixels, heatmap[0]), [])

    def explained(self, run: Callable[[], Any]) -> tuple[Any, list[str]]:
        """What `run` (a Grad-CAM call) returns, or None and why there is no heatmap."""
        try:
            return run(), []
        except ValueError as error:  # no convolution, or a structure Grad-CAM cannot open
            return None, [f"no Grad-CAM heatmap for this model ({one_line(str(error))})"]
        except Exception as error:  # a heatmap is a bonus: its failure must not hide the answer
            logger.exception("Grad-CAM failed for %s", self.model.name)
            return None, [
                f"no Grad-CAM heatmap: an unexpected error, logged ({one_line(str(error))})"
            ]


def load_predictor(model_path: Path | str | None = None) -> Predictor:
    """A cached Predictor for a model file (default: the release model).

    It is loaded afresh when the model file, its card, its references or its unsure rule
    change, appear or disappear: the cache is keyed on all these files' modification times
    and sizes.
    """
    path = Path(model_path) if model_path is not None else artifacts.release_model_path()
    companions = (
        path,
        artifacts.card_path(path),
        reference_path(path),
        rule_path(path),
        novelty_path(path),
    )
    return cached_predictor(str(path), tuple(file_stamp(file) for file in companions))


def file_stamp(path: Path) -> tuple[int, int] | None:
    """(modification time in ns, size) of a file, or None when it is missing."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size


@lru_cache(maxsize=2)
def cached_predictor(path: str, stamps: tuple[tuple[int, int] | None, ...]) -> Predictor:
    """The Predictor of `path`; `stamps` (see `load_predictor`) only key the cache."""
    return Predictor.from_file(path)


def predict(
    source: ImageSource,
    name: str = "",
    model_path: Path | str | None = None,
    explain: bool = True,
) -> Prediction:
    """Classify one file or upload with the release model (or `model_path`).

    Raises UnusableImageError (bad input) or ModelLoadError (no usable model), each one line.
    """
    return load_predictor(model_path).predict(source, name, explain)
