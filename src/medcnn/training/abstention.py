"""Fitting the "unsure" rule of a model: on validation and on held-out training sources only.

The temperature is fitted on the validation split. The three thresholds (calibrated top
probability, distance in the model's features, novelty in generic features; see
`modeling.unsure`) are chosen on the images of the leave-source-out folds
(`training.holdout`), each judged by its own fold's model, temperature and references: whole
sources those models never saw, as an upload from an unseen hospital would be. Of the rules
whose asserted error (wrong answers given as sure, among all images) stays within
`ERROR_BOUND` there, the one that answers "unsure" least often is taken: selective
classification with a target risk, after Geifman and El-Yaniv (2017), though measured on
the very images it is fitted on and so without their guarantee. `external` is never used.
"""

from __future__ import annotations

from itertools import product
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from medcnn.config import CLASSES
from medcnn.evaluation.abstention import abstention_figures
from medcnn.evaluation.calibration import fit_temperature
from medcnn.modeling.novelty import fit_novelty
from medcnn.modeling.unsure import UnsureRule, save_rule
from medcnn.training.holdout import FOLDS, held_out_mask

ERROR_BOUND = 0.005
"""The largest share of images that may be answered wrong without "unsure": medcnn's
target on sources it never saw."""
PROBABILITY_GRID = (*np.round(np.arange(0.40, 0.995, 0.01), 2).tolist(), 0.995, 0.999)
DISTANCE_GRID = (0.8, 0.9, 1.0, 1.1, 1.25, 1.5, 2.0, 3.0, float("inf"))
NOVELTY_GRID = (0.5, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 1.0, 1.1, 1.25, 1.5, float("inf"))
OTHER = CLASSES.index("other")


def fold_novelty(
    rows: dict[str, pd.DataFrame],
    labels: dict[str, np.ndarray],
    generic: dict[str, np.ndarray],
    results: dict[str, Any],
    candidate: str = "release",
) -> dict[str, np.ndarray]:
    """Per fold: the novelty of its held-out images, each for the class its fold's model
    answered, against a reference fitted on the fold's own train and val images (labels and
    generic features of the `train` and `val` pool, in the order `holdout.fold_data` puts
    the held-out images)."""
    ratios = {}
    for fold in FOLDS:
        masks = {split: held_out_mask(rows[split], fold) for split in ("train", "val")}
        kept = {split: ~masks[split] for split in masks}
        reference = fit_novelty(
            generic["train"][kept["train"]],
            labels["train"][kept["train"]],
            generic["val"][kept["val"]],
            labels["val"][kept["val"]],
        )
        held = np.concatenate([generic[split][masks[split]] for split in ("train", "val")])
        run = results["candidates"][candidate]["runs"]["0"][fold.name]
        answered = np.asarray(run["images"]["probabilities"]).argmax(axis=1)
        if len(answered) != len(held):
            raise ValueError(f"fold {fold.name}: the fold results and the dataset disagree")
        ratios[fold.name] = reference.ratios(held, answered)
    return ratios


def fold_images(
    results: dict[str, Any], novelty: dict[str, np.ndarray], candidate: str = "release"
) -> dict[str, np.ndarray]:
    """The folds' held-out images pooled: labels, predictions, calibrated top probability
    (each fold's own temperature), distance and novelty ratios, and source."""
    parts = []
    for fold, run in results["candidates"][candidate]["runs"]["0"].items():
        images = run["images"]
        calibrated = UnsureRule(temperature=run["temperature"]).calibrated(
            np.asarray(images["probabilities"])
        )
        parts.append(
            {
                "labels": np.asarray(images["label"]),
                "predicted": calibrated.argmax(axis=1),
                "top": calibrated.max(axis=1),
                "distance_ratio": np.asarray(images["distance_ratio"]),
                "novelty_ratio": novelty[fold],
                "source": np.asarray(images["source"]),
            }
        )
    return {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}


def unsure_under(images: dict[str, np.ndarray], thresholds: tuple[float, float, float]):
    """Which images the rule with these (probability, distance, novelty) thresholds withholds."""
    probability, distance, novelty = thresholds
    return (
        (images["top"] < probability)
        | (images["distance_ratio"] > distance)
        | ((images["novelty_ratio"] > novelty) & (images["predicted"] != OTHER))
    )


def choose_thresholds(images: dict[str, np.ndarray]) -> tuple[tuple[float, float, float], dict]:
    """The grid point with the fewest "unsure" answers among those whose asserted error on
    the fold images is within `ERROR_BOUND` (when none is, the one that exceeds it least),
    and its figures there; ties go to the lowest probability floor, then the highest
    ceilings."""
    wrong = images["predicted"] != images["labels"]

    def rank(thresholds: tuple[float, float, float]) -> tuple:
        unsure = unsure_under(images, thresholds)
        excess = max(0.0, float(np.mean(wrong & ~unsure)) - ERROR_BOUND)
        return (
            round(excess, 12),
            round(float(np.mean(unsure)), 12),
            thresholds[0],
            -thresholds[1],
            -thresholds[2],
        )

    best = min(product(PROBABILITY_GRID, DISTANCE_GRID, NOVELTY_GRID), key=rank)
    return best, abstention_figures(~wrong, unsure_under(images, best))


def fit_rule(
    model_path: Path,
    val: dict[str, np.ndarray],
    holdout_results: dict[str, Any],
    novelty: dict[str, np.ndarray],
) -> UnsureRule:
    """Fit the rule of the model at `model_path` and save it beside the model, with the
    figures it gives on the fold images and on `val`.

    `val` holds the validation split's `labels`, raw `probabilities`, `distance_ratio` and
    `novelty_ratio`; `novelty` the folds' held-out novelty (`fold_novelty`).
    """
    images = fold_images(holdout_results, novelty)
    (probability, distance, novel), on_folds = choose_thresholds(images)
    rule = UnsureRule(
        temperature=fit_temperature(val["probabilities"], val["labels"]),
        min_probability=probability,
        max_distance_ratio=distance,
        max_novelty_ratio=novel,
        fitted_on=f"temperature on val; thresholds on the held-out images of {len(FOLDS)} "
        "leave-source-out folds",
    )
    verdict = rule.judge(val["probabilities"], val["distance_ratio"], val["novelty_ratio"])
    right = verdict["top_class"].to_numpy() == np.asarray(CLASSES)[val["labels"]]
    per_source = {
        source: abstention_figures(
            ~(images["predicted"] != images["labels"])[images["source"] == source],
            unsure_under(images, (probability, distance, novel))[images["source"] == source],
        )
        for source in sorted(set(images["source"].tolist()))
    }
    evidence = {
        "folds": on_folds,
        "fold_sources": per_source,
        "val": abstention_figures(right, verdict["unsure"].to_numpy()),
        "error_bound": ERROR_BOUND,
    }
    save_rule(rule, model_path, evidence)
    return rule
