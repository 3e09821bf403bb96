"""When the answer is "unsure": the calibrated top probability and the distance from training.

An image is asserted only when all hold: its top probability, after temperature scaling,
is at least `min_probability`; its distance in the model's own features
(`modeling.features`) is at most `max_distance_ratio` times the reference's threshold; and,
when the answer would be `brain` or `lung`, its novelty in generic features
(`modeling.novelty`, against the training images of that class) is at most
`max_novelty_ratio`: brain and lung are narrow classes, and an image unlike their training
images is not asserted as one of them (as `other` it may be). Otherwise the answer is
"unsure", with the best guess beside it. The rule is fitted by `training.abstention` on the
validation split and on folds that hold whole training sources out, never on `external`,
and saved beside the model as `<model>.unsure.json`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from medcnn.config import CLASSES
from medcnn.io import write_atomic
from medcnn.modeling.features import FeatureReference
from medcnn.modeling.novelty import NoveltyReference

SMALLEST_PROBABILITY = 1e-12


@dataclass(frozen=True)
class UnsureRule:
    """Temperature, probability floor, distance ceiling; `fitted_on` says where they came from."""

    temperature: float = 1.0
    min_probability: float = 0.6
    max_distance_ratio: float = 1.0
    max_novelty_ratio: float = float("inf")
    fitted_on: str = "defaults: no rule was fitted for this model"

    def calibrated(self, probabilities: np.ndarray) -> np.ndarray:
        """Probabilities after dividing the logits by the temperature (the argmax is unchanged)."""
        logits = np.log(np.clip(np.asarray(probabilities, np.float64), SMALLEST_PROBABILITY, 1))
        scaled = logits / self.temperature
        scaled -= scaled.max(axis=1, keepdims=True)
        exponentials = np.exp(scaled)
        return exponentials / exponentials.sum(axis=1, keepdims=True)

    def judge(
        self,
        probabilities: np.ndarray,
        distance_ratios: np.ndarray | None,
        novelty_ratios: np.ndarray | None = None,
    ) -> pd.DataFrame:
        """One row per image: `top_class`, `top_probability` (calibrated), `distance_ratio`
        and `novelty_ratio` (NaN without their references), `low_confidence`, `unfamiliar`,
        `novel` (a brain or lung answer too novel to assert) and `unsure` (any of the three)."""
        calibrated = self.calibrated(probabilities)
        top = calibrated.max(axis=1)
        top_class = np.asarray(CLASSES)[calibrated.argmax(axis=1)]
        frame = pd.DataFrame(
            {
                "top_class": top_class,
                "top_probability": top,
                "distance_ratio": _or_nan(distance_ratios, len(top)),
                "novelty_ratio": _or_nan(novelty_ratios, len(top)),
            }
        )
        frame["low_confidence"] = top < self.min_probability
        frame["unfamiliar"] = frame["distance_ratio"] > self.max_distance_ratio
        frame["novel"] = (frame["novelty_ratio"] > self.max_novelty_ratio) & (top_class != "other")
        frame["unsure"] = frame["low_confidence"] | frame["unfamiliar"] | frame["novel"]
        return frame


def verdict(
    rule: UnsureRule,
    pixels: np.ndarray,
    features: np.ndarray,
    probabilities: np.ndarray,
    reference: FeatureReference | None = None,
    novelty: NoveltyReference | None = None,
    generic: np.ndarray | None = None,
) -> pd.DataFrame:
    """`rule.judge` of images, measuring the distance and the novelty the one way the
    predictor, the evaluation and the fitting all use (`generic`: the pixels' generic
    features, when computed already)."""
    ratios = None if reference is None else reference.distances(features) / reference.threshold
    answered = np.asarray(probabilities).argmax(axis=1)
    novel = None if novelty is None else novelty.of_pixels(pixels, answered, generic)
    return rule.judge(probabilities, ratios, novel)


def rule_record(rule: UnsureRule) -> dict:
    """The rule as strict JSON: an infinite ceiling (no ceiling) is written as null."""
    return {k: None if v == float("inf") else v for k, v in asdict(rule).items()}


def rule_from_record(record: dict) -> UnsureRule:
    return UnsureRule(**{k: float("inf") if v is None else v for k, v in record.items()})


def _or_nan(values: np.ndarray | None, count: int) -> np.ndarray:
    return np.full(count, np.nan) if values is None else np.asarray(values, np.float64)


def rule_path(model_path: Path) -> Path:
    return Path(model_path).with_suffix(".unsure.json")


def save_rule(rule: UnsureRule, model_path: Path, evidence: dict | None = None) -> Path:
    """Write `<model>.unsure.json` atomically, with the figures that justified the rule."""
    path = rule_path(model_path)
    record = {"rule": rule_record(rule), "evidence": evidence or {}}
    write_atomic(path, (json.dumps(record, indent=1, allow_nan=False) + "\n").encode())
    return path


def load_rule(model_path: Path) -> UnsureRule:
    """The rule saved beside a model, or the defaults (which say so in `fitted_on`)."""
    path = rule_path(model_path)
    if not path.is_file():
        return UnsureRule()
    return rule_from_record(json.loads(path.read_text())["rule"])


def read_evidence(model_path: Path) -> dict:
    """The figures saved with the rule: where it was fitted and what it gave there."""
    path = rule_path(model_path)
    return json.loads(path.read_text())["evidence"] if path.is_file() else {}
