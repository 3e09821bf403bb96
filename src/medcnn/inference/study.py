"""The answer for a volume (a study): one verdict from the slices that carry it.

The slices are chosen and windowed by `medcnn.imaging.slices` and judged in batches by
`Predictor.screen`, the same judgement single images get, so a change to the "unsure" rule
reaches studies too. The rule for the study:

- its probabilities are the mean of the used slices' probabilities (as `screen` gives them);
- its class is the top class of that mean, asserted only when at least half of the used
  slices are judged sure and most of those sure slices have that class; otherwise the study
  is unsure, with the top class as best guess;
- its heatmap is the Grad-CAM, for that class, of the slice with the highest probability
  of it: the slice that most supports the verdict.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from medcnn.config import CLASSES
from medcnn.imaging.errors import UnusableImageError
from medcnn.imaging.inputs import Item, group_uploads, read_path, read_upload_unit
from medcnn.imaging.slices import choose_slices
from medcnn.imaging.volumes import Member, Volume
from medcnn.inference.predictor import Prediction, Predictor, load_predictor
from medcnn.io import one_line
from medcnn.modeling.artifacts import ModelLoadError

logger = logging.getLogger("medcnn.inference")


@dataclass(frozen=True)
class SliceVerdict:
    """One used slice: its index in the volume, probabilities and the screen's judgement."""

    index: int
    probabilities: dict[str, float]
    top_class: str
    unsure: bool


@dataclass(frozen=True)
class StudyPrediction:
    """What the model says about a volume; `label` None when the study is unsure."""

    name: str
    kind: str
    probabilities: dict[str, float]
    top_class: str
    label: str | None
    slices_read: int
    slices: tuple[SliceVerdict, ...]
    pixels: np.ndarray
    overlay: np.ndarray | None
    explained_slice: int
    window: str
    warnings: tuple[str, ...]

    def summary(self) -> str:
        """One line: `lung (97%), 25 of 100 slices` or `unsure (best guess lung, 52%), …`."""
        share = f"{self.probabilities[self.top_class]:.0%}"
        verdict = (
            f"unsure (best guess {self.top_class}, {share})"
            if self.label is None
            else f"{self.label} ({share})"
        )
        return f"{verdict}, {len(self.slices)} of {self.slices_read} slices"

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready record with per-slice details, without the pixel arrays."""
        return {
            "file": self.name,
            "kind": self.kind,
            "label": self.label,
            "top_class": self.top_class,
            "probabilities": self.probabilities,
            "slices_read": self.slices_read,
            "slices_used": len(self.slices),
            "window": self.window,
            "explained_slice": self.explained_slice,
            "slices": [
                {
                    "index": s.index,
                    "top_class": s.top_class,
                    "unsure": s.unsure,
                    "probabilities": s.probabilities,
                }
                for s in self.slices
            ],
            "warnings": list(self.warnings),
            "error": None,
        }


Answer = Prediction | StudyPrediction


def classify_study(predictor: Predictor, volume: Volume, explain: bool = True) -> StudyPrediction:
    """The study answer of a volume (the rule is the module's)."""
    chosen = choose_slices(volume)
    judged = predictor.screen(chosen.pixels)
    probabilities = np.stack(judged["probabilities"].to_numpy()).astype(np.float64)
    mean = probabilities.mean(axis=0)
    top = int(np.argmax(mean))
    sure = ~judged["unsure"].to_numpy(bool)
    agreeing = sure & (judged["top_class"].to_numpy() == CLASSES[top])
    trusted = sure.mean() >= 0.5 and agreeing.sum() > sure.sum() / 2
    notes = [*volume.warnings, f"{len(chosen.pixels)} slices classified, {chosen.window}"]
    if not trusted:
        notes.append(
            f"the study is unsure: {int(sure.sum())} of {len(sure)} slices are sure, "
            f"{int(agreeing.sum())} of them say {CLASSES[top]}"
        )
    if predictor.reference is None:
        notes.append(
            "this model has no out-of-distribution reference (medcnn.modeling.features): "
            "slices unlike the training data are not detected"
        )
    best = int(np.argmax(probabilities[:, top]))
    overlay = None
    if explain:
        overlay, problems = predictor.heatmap_overlay(chosen.pixels[best], top)
        notes += problems
    slices = tuple(
        SliceVerdict(
            int(index),
            {c: float(p) for c, p in zip(CLASSES, row, strict=True)},
            str(verdict.top_class),
            bool(verdict.unsure),
        )
        for index, row, verdict in zip(
            chosen.indices, probabilities, judged.itertuples(), strict=True
        )
    )
    return StudyPrediction(
        name=volume.name,
        kind=volume.kind,
        probabilities={c: float(p) for c, p in zip(CLASSES, mean, strict=True)},
        top_class=CLASSES[top],
        label=CLASSES[top] if trusted else None,
        slices_read=chosen.read,
        slices=slices,
        pixels=chosen.pixels,
        overlay=overlay,
        explained_slice=int(chosen.indices[best]),
        window=chosen.window,
        warnings=tuple(notes),
    )


def answer(predictor: Predictor, item: Item, name: str, explain: bool = True) -> Answer:
    """A volume's study answer, or a single image's prediction (named `name`)."""
    if isinstance(item, Volume):
        return classify_study(predictor, item, explain)
    return predictor.classify(item, name, explain)


def predict_path(
    path: Path | str, model_path: Path | str | None = None, explain: bool = True
) -> list[Answer]:
    """Every image or study in a file or folder; UnusableImageError or ModelLoadError if none."""
    predictor = load_predictor(model_path)
    return [answer(predictor, item, str(path), explain) for item in read_path(path)]


def predict_uploads(
    files: list[Member], model_path: Path | str | None = None
) -> list[tuple[str, list[Answer] | str]]:
    """Uploads (name, bytes) answered unit by unit (`group_uploads`): answers, or one line."""
    results = []
    for name, members in group_uploads(files):
        try:
            predictor = load_predictor(model_path)
            items = read_upload_unit(name, members)
            results.append((name, [answer(predictor, item, name) for item in items]))
        except (UnusableImageError, ModelLoadError) as error:
            results.append((name, str(error)))
        except Exception as error:  # a user never gets a traceback; the maintainer gets a log
            logger.exception("could not answer the upload %s", name)
            results.append(
                (name, f"could not be classified, an error logged ({one_line(str(error))})")
            )
    return results
