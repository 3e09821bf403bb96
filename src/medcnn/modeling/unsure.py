"""When the answer is "unsure": the calibrated top probability and the distance from training.

An image is asserted only when both hold: its top probability, after temperature scaling,
is at least `min_probability`, and its feature distance (`modeling.features`) is at most
`max_distance_ratio` times the reference's threshold. Otherwise the answer is "unsure",
with the best guess beside it. The rule is fitted by `training.abstention` on the
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

SMALLEST_PROBABILITY = 1e-12


@dataclass(frozen=True)
class UnsureRule:
    """Temperature, probability floor, distance ceiling; `fitted_on` says where they came from."""

    temperature: float = 1.0
    min_probability: float = 0.6
    max_distance_ratio: float = 1.0
    fitted_on: str = "defaults: no rule was fitted for this model"

    def calibrated(self, probabilities: np.ndarray) -> np.ndarray:
        """Probabilities after dividing the logits by the temperature (the argmax is unchanged)."""
        logits = np.log(np.clip(np.asarray(probabilities, np.float64), SMALLEST_PROBABILITY, 1))
        scaled = logits / self.temperature
        scaled -= scaled.max(axis=1, keepdims=True)
        exponentials = np.exp(scaled)
        return exponentials / exponentials.sum(axis=1, keepdims=True)

    def judge(self, probabilities: np.ndarray, distance_ratios: np.ndarray | None) -> pd.DataFrame:
        """One row per image: `top_class`, `top_probability` (calibrated), `distance_ratio`
        (NaN without a reference), `low_confidence`, `unfamiliar` and `unsure`."""
        calibrated = self.calibrated(probabilities)
        top = calibrated.max(axis=1)
        ratios = (
            np.full(len(top), np.nan)
            if distance_ratios is None
            else np.asarray(distance_ratios, np.float64)
        )
        frame = pd.DataFrame(
            {
                "top_class": np.asarray(CLASSES)[calibrated.argmax(axis=1)],
                "top_probability": top,
                "distance_ratio": ratios,
                "low_confidence": top < self.min_probability,
                "unfamiliar": ratios > self.max_distance_ratio,
            }
        )
        frame["unsure"] = frame["low_confidence"] | frame["unfamiliar"]
        return frame


def rule_path(model_path: Path) -> Path:
    return Path(model_path).with_suffix(".unsure.json")


def save_rule(rule: UnsureRule, model_path: Path, evidence: dict | None = None) -> Path:
    """Write `<model>.unsure.json` atomically, with the figures that justified the rule."""
    path = rule_path(model_path)
    record = {"rule": asdict(rule), "evidence": evidence or {}}
    write_atomic(path, (json.dumps(record, indent=1) + "\n").encode())
    return path


def load_rule(model_path: Path) -> UnsureRule:
    """The rule saved beside a model, or the defaults (which say so in `fitted_on`)."""
    path = rule_path(model_path)
    if not path.is_file():
        return UnsureRule()
    return UnsureRule(**json.loads(path.read_text())["rule"])


def read_evidence(model_path: Path) -> dict:
    """The figures saved with the rule: where it was fitted and what it gave there."""
    path = rule_path(model_path)
    return json.loads(path.read_text())["evidence"] if path.is_file() else {}
