"""The one prediction path: a file or upload → canonical pixels → probabilities, verdict, Grad-CAM.

The CLI, the notebook widget and the Streamlit app all call `predict` (or a `Predictor`), so a
user's file meets the same preprocessing as the training set and the same rules for saying
"unsure". One image is run through a `tf.function` traced once per model, not through
`model.predict`, whose per-call set-up costs far more than the network itself on a CPU.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pandas as pd

from medcnn.config import CLASSES
from medcnn.imaging.readers import DecodedImage, ImageSource, read_image
from medcnn.io import one_line
from medcnn.modeling import artifacts
from medcnn.modeling.features import FeatureReference, load_reference
from medcnn.modeling.forward import Forward

UNSURE_BELOW = 0.6
"""Top probability under which the answer is "unsure": well above chance (1/3) for 3 classes."""


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
    """A loaded model with its out-of-distribution reference, ready for one image at a time."""

    def __init__(self, model: keras.Model, reference: FeatureReference | None = None) -> None:
        self.model = model
        self.reference = reference
        self.forward = Forward(model)
        self.dtype = self.forward.dtype

    @classmethod
    def from_file(cls, model_path: Path | str | None = None) -> Predictor:
        """Load a saved model (default: the release model) and the reference beside it."""
        path = Path(model_path) if model_path is not None else artifacts.release_model_path()
        return cls(artifacts.load_model(path), load_reference(path))

    def screen(self, pixels: np.ndarray, batch_size: int = 256) -> pd.DataFrame:
        """What `classify` would decide for many images, without heatmaps.

        One row per image: `top_class`, `top_probability`, `distance` (NaN without a
        reference), `low_confidence`, `unfamiliar` and `unsure` (either of the two).
        """
        features, probabilities = self.forward.batches(pixels, batch_size)
        top = probabilities.max(axis=1)
        if self.reference is None:
            distance = np.full(len(top), np.nan)
        else:
            distance = self.reference.distances(features)
        frame = pd.DataFrame(
            {
                "top_class": np.asarray(CLASSES)[probabilities.argmax(axis=1)],
                "top_probability": top,
                "distance": distance,
                "low_confidence": top < UNSURE_BELOW,
                "unfamiliar": self.reference is not None and distance > self.reference.threshold,
            }
        )
        frame["unsure"] = frame["low_confidence"] | frame["unfamiliar"]
        return frame

    def predict(self, source: ImageSource, name: str = "", explain: bool = True) -> Prediction:
        """Read a file or upload and classify it; raises UnusableImageError for bad input."""
        name = name or (str(source) if isinstance(source, str | Path) else "upload")
        return self.classify(read_image(source, name), name, explain)

    def classify(self, image: DecodedImage, name: str, explain: bool = True) -> Prediction:
        """Probabilities, verdict and (when `explain`) the Grad-CAM overlay of decoded pixels."""
        features, probabilities = self.forward(image.pixels[np.newaxis])
        scores = {c: float(p) for c, p in zip(CLASSES, probabilities[0], strict=True)}
        top = int(np.argmax(probabilities[0]))
        notes = list(image.warnings)
        trusted = scores[CLASSES[top]] >= UNSURE_BELOW
        if not trusted:
            notes.append(
                f"the model is unsure: its top probability {scores[CLASSES[top]]:.0%} "
                f"is below {UNSURE_BELOW:.0%}"
            )
        distance = None
        if self.reference is None:
            notes.append(
                "this model has no out-of-distribution reference (medcnn.modeling.features): "
                "an image unlike the training data is not detected"
            )
        else:
            distance = float(self.reference.distances(features)[0])
            if distance > self.reference.threshold:
                trusted = False
                notes.append(
                    f"the image is unlike the training images (feature distance {distance:.1f}, "
                    f"above {self.reference.threshold:.1f} where {self.reference.quantile:.0%} "
                    "of validation images fall): the class is not asserted"
                )
        overlay = None
        if explain:
            overlay, problems = self.heatmap_overlay(image.pixels, top)
            notes += problems
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

    def heatmap_overlay(self, pixels: np.ndarray, class_index: int) -> tuple[Any, list[str]]:
        """Grad-CAM of `class_index` blended over the image, or None and why not."""
        from medcnn.explain.gradcam import grad_cam, overlay

        try:
            heatmap = grad_cam(self.model, pixels[..., np.newaxis].astype(self.dtype), class_index)
        except Exception as error:  # a heatmap is a bonus: its failure must not hide the answer
            return None, [f"no Grad-CAM heatmap for this model ({one_line(str(error))})"]
        return overlay(pixels, heatmap), []


def load_predictor(model_path: Path | str | None = None) -> Predictor:
    """A cached Predictor for a model file (default: the release model), reloaded if it changes."""
    path = Path(model_path) if model_path is not None else artifacts.release_model_path()
    try:
        stamp = path.stat().st_mtime_ns
    except OSError:
        stamp = None
    return cached_predictor(str(path), stamp)


@lru_cache(maxsize=2)
def cached_predictor(path: str, stamp: int | None) -> Predictor:
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
