"""Fitting the "unsure" rule of a model: on validation and on held-out training sources only.

The temperature is fitted on the validation split. The two thresholds (calibrated top
probability, feature distance relative to the reference's threshold) are chosen on the
images of the leave-source-out folds (`training.holdout`), each judged by its own fold's
model, temperature and reference: whole sources those models never saw, as an upload from
an unseen hospital would be. The thresholds minimise the expected cost on those images,
where an asserted wrong answer costs 1 and an "unsure" answer costs `UNSURE_COST` (Chow's
reject option, with a wrong answer ten times as bad as a withheld one). `external` is never
used.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from medcnn.config import CLASSES
from medcnn.evaluation.abstention import abstention_figures
from medcnn.evaluation.calibration import fit_temperature
from medcnn.modeling.unsure import UnsureRule, save_rule

UNSURE_COST = 0.1
"""What an "unsure" answer costs, against 1 for a wrong answer given as sure."""
PROBABILITY_GRID = tuple(np.round(np.arange(0.40, 0.995, 0.01), 2).tolist())
DISTANCE_GRID = (0.8, 0.9, 1.0, 1.1, 1.25, 1.5, 2.0, 3.0, float("inf"))


def fold_images(results: dict[str, Any], candidate: str, seed: int = 0) -> list[dict[str, Any]]:
    """Per fold: labels, calibrated probabilities and distance ratios of its held-out images."""
    folds = []
    for run in results["candidates"][candidate]["runs"][str(seed)].values():
        images = run["images"]
        rule = UnsureRule(temperature=run["temperature"])
        folds.append(
            {
                "labels": np.asarray(images["label"]),
                "probabilities": rule.calibrated(np.asarray(images["probabilities"])),
                "distance_ratio": np.asarray(images["distance_ratio"]),
                "source": np.asarray(images["source"]),
            }
        )
    return folds


def judged(folds: list[dict[str, Any]], min_probability: float, max_ratio: float) -> dict:
    """`abstention_figures` of the pooled fold images under one pair of thresholds."""
    right = np.concatenate([f["probabilities"].argmax(axis=1) == f["labels"] for f in folds])
    top = np.concatenate([f["probabilities"].max(axis=1) for f in folds])
    ratio = np.concatenate([f["distance_ratio"] for f in folds])
    return abstention_figures(right, (top < min_probability) | (ratio > max_ratio))


def choose_thresholds(folds: list[dict[str, Any]]) -> tuple[float, float, dict]:
    """The grid point of least cost (module docstring), and its figures on the fold images;
    ties go to the lower probability floor and the higher distance ceiling."""
    grid = [(p, r, judged(folds, p, r)) for p in PROBABILITY_GRID for r in DISTANCE_GRID]
    return min(grid, key=lambda g: (cost(g[2]), g[0], -g[1]))


def cost(figures: dict[str, Any]) -> float:
    return figures["asserted_error_rate"] + UNSURE_COST * figures["unsure_rate"]


def fit_rule(
    model_path: Path,
    val_probabilities: np.ndarray,
    val_labels: np.ndarray,
    val_ratios: np.ndarray,
    holdout_results: dict[str, Any],
    candidate: str = "release",
) -> UnsureRule:
    """Fit the rule of the model at `model_path` and save it beside the model."""
    folds = fold_images(holdout_results, candidate)
    min_probability, max_ratio, on_folds = choose_thresholds(folds)
    rule = UnsureRule(
        temperature=fit_temperature(val_probabilities, val_labels),
        min_probability=min_probability,
        max_distance_ratio=max_ratio,
        fitted_on=f"temperature on val; thresholds on the held-out images of "
        f"{len(folds)} leave-source-out folds ({candidate} recipe)",
    )
    verdict = rule.judge(val_probabilities, val_ratios)
    right = verdict["top_class"].to_numpy() == np.asarray(CLASSES)[val_labels]
    evidence = {
        "folds": on_folds,
        "val": abstention_figures(right, verdict["unsure"].to_numpy()),
        "unsure_cost": UNSURE_COST,
    }
    save_rule(rule, model_path, evidence)
    return rule
