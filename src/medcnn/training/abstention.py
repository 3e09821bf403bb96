"""Fitting the "unsure" rule of a model: on validation and on held-out training sources only.

The temperature is fitted on the validation split (for an ensemble, each member's, applied
inside the merged model, so its rule keeps temperature 1). The three thresholds (calibrated top
probability, distance in the model's features, novelty in generic features; see
`modeling.unsure`) are chosen on the images of the leave-source-out folds
(`training.holdout`), each judged by its own fold's model, temperature and references: whole
sources those models never saw, as an upload from an unseen hospital would be. Of the rules
whose asserted error (wrong answers given as sure, among all images) stays within
`ERROR_BOUND` there, the one that answers "unsure" least often is taken: selective
classification with a target risk, after Geifman and El-Yaniv (2017), though measured on
the very images it is fitted on and so without their guarantee. `external` is never used.

Both rates are means over the held-out sources, each source weighed equally however many
images it has: the promise is made to whoever uploads from a source never seen, and a
large, easy source would otherwise buy a low floor with the errors of a small, hard one.
"""

from __future__ import annotations

from itertools import product
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import softmax

from medcnn.config import CLASSES
from medcnn.evaluation.abstention import abstention_figures
from medcnn.evaluation.calibration import fit_temperature, tempered_log_probabilities
from medcnn.evaluation.metrics import confusion, macro_f1_of
from medcnn.modeling.unsure import UnsureRule, save_rule
from medcnn.training.holdout import ENSEMBLES, FOLDS, RELEASE, RELEASE_SEEDS

ERROR_BOUND = 0.005
"""The largest share of images that may be answered wrong without "unsure", averaged over
held-out sources: medcnn's target on sources it never saw."""
PROBABILITY_GRID = (*np.round(np.arange(0.40, 0.995, 0.01), 2).tolist(), 0.995, 0.999)
DISTANCE_GRID = (0.8, 0.9, 1.0, 1.1, 1.25, 1.5, 2.0, 3.0, float("inf"))
NOVELTY_GRID = (0.5, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 1.0, 1.1, 1.25, 1.5, float("inf"))
OTHER = CLASSES.index("other")


def member_runs(members: tuple[str, ...], seed: str | tuple[str, ...]) -> list[tuple[str, str]]:
    """Each (recipe, seed) whose fold runs `members` under `seed` (one or several) merge."""
    return [
        (member, one) for member in members for one in ((seed,) if isinstance(seed, str) else seed)
    ]


def fold_images(
    results: dict[str, Any],
    members: tuple[str, ...] = ENSEMBLES[RELEASE],
    seed: str | tuple[str, ...] = RELEASE_SEEDS,
) -> dict[str, np.ndarray]:
    """The folds' held-out images pooled, as judged by the candidate `members` under `seed`
    (several members, or seeds: the mean of their calibrated logits, a geometric mean of
    their probabilities; by default as the release judges them): labels, predictions,
    calibrated top probability (each run's own temperature), distance ratio, novelty ratio
    for the class answered, source and fold.

    An ensemble's distance ratio is NaN: the merged model measures distance in its members'
    joined features, which no fold run did, so no distance ceiling is fitted for it (NaN
    withholds nothing under any ceiling, and ties go to the highest, none)."""
    parts = []
    for fold in FOLDS:
        runs = [
            results["candidates"][member]["runs"][one][fold.name]
            for member, one in member_runs(members, seed)
        ]
        calibrated = softmax(
            np.mean(
                [
                    tempered_log_probabilities(
                        np.asarray(run["images"]["probabilities"]), run["temperature"]
                    )
                    for run in runs
                ],
                axis=0,
            ),
            axis=1,
        )
        predicted = calibrated.argmax(axis=1)
        novelty = np.asarray(results["folds"][fold.name]["novelty"])
        if len(novelty) != len(predicted):
            raise ValueError(f"fold {fold.name}: the runs and the fold's novelty disagree")
        parts.append(
            {
                "labels": np.asarray(runs[0]["images"]["label"]),
                "predicted": predicted,
                "top": calibrated.max(axis=1),
                "distance_ratio": np.asarray(runs[0]["images"]["distance_ratio"], float)
                if len(runs) == 1
                else np.full(len(predicted), np.nan),
                "novelty_ratio": novelty[np.arange(len(predicted)), predicted],
                "source": np.asarray(runs[0]["images"]["source"]),
                "fold": np.full(len(predicted), fold.name),
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


def source_weights(sources: np.ndarray) -> np.ndarray:
    """Each image's weight when every source counts equally: 1 / (sources × its source's
    images), so that a weighted sum is the mean over sources of each source's share."""
    _, index, counts = np.unique(np.asarray(sources), return_inverse=True, return_counts=True)
    return 1.0 / (counts[index] * len(counts))


def choose_thresholds(images: dict[str, np.ndarray]) -> tuple[tuple[float, float, float], dict]:
    """The grid point with the fewest "unsure" answers among those whose asserted error on
    the fold images is within `ERROR_BOUND` (when none is, the one that exceeds it least),
    both rates averaged over the held-out sources (`source_weights`); and its figures there,
    over all images (`abstention_figures`) and, for the two rates, over sources
    (`*_over_sources`). Ties go to the lowest probability floor, then the highest ceilings."""
    wrong = images["predicted"] != images["labels"]
    weights = source_weights(images["source"])
    grid = np.array(list(product(PROBABILITY_GRID, DISTANCE_GRID, NOVELTY_GRID)))
    asserted, unsure_rate = grid_rates(images, wrong)
    excess = np.maximum(0.0, asserted - ERROR_BOUND)
    order = np.lexsort(
        (-grid[:, 2], -grid[:, 1], grid[:, 0], np.round(unsure_rate, 12), np.round(excess, 12))
    )
    best = tuple(float(value) for value in grid[order[0]])
    unsure = unsure_under(images, best)
    return best, abstention_figures(~wrong, unsure) | {
        "unsure_rate_over_sources": float(weights @ unsure),
        "asserted_error_rate_over_sources": float(weights @ (wrong & ~unsure)),
    }


def grid_rates(images: dict[str, np.ndarray], wrong: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Asserted-error and "unsure" rates, each the mean over sources, of every rule on the
    grid (`product(PROBABILITY_GRID, DISTANCE_GRID, NOVELTY_GRID)` order).

    For each pair of ceilings, an image is answered under a floor p when the ceilings keep
    it and its top probability is at least p. Sorting the images by source, then top
    probability (the key source + top / 2, as top ≤ 1), one search counts them for every
    source and floor at once."""
    sources, index = np.unique(images["source"], return_inverse=True)
    sizes = np.bincount(index, minlength=len(sources)).astype(float)
    keys = index + images["top"] / 2
    order = np.argsort(keys, kind="stable")
    keys, wrong = keys[order], wrong[order]
    ordered = {key: value[order] for key, value in images.items()}
    starts = np.arange(len(sources))[:, np.newaxis] + np.asarray(PROBABILITY_GRID) / 2
    ends = np.arange(1, len(sources) + 1)[:, np.newaxis] - 0.25

    def counted(kept_keys: np.ndarray) -> np.ndarray:
        """Per floor, the mean over sources of the share of images kept at or above it."""
        at_least = np.searchsorted(kept_keys, ends) - np.searchsorted(kept_keys, starts)
        return (at_least / sizes[:, np.newaxis]).mean(axis=0)

    shape = (len(PROBABILITY_GRID), len(DISTANCE_GRID), len(NOVELTY_GRID))
    asserted, answered = np.zeros(shape), np.zeros(shape)
    for d, ceiling in enumerate(DISTANCE_GRID):
        for n, novel in enumerate(NOVELTY_GRID):
            kept = ~unsure_under(ordered, (-np.inf, ceiling, novel))
            answered[:, d, n] = counted(keys[kept])
            asserted[:, d, n] = counted(keys[kept & wrong])
    return asserted.reshape(-1), (1.0 - answered).reshape(-1)


def out_of_fold(images: dict[str, np.ndarray]) -> dict[str, float]:
    """The rule's figures when each fold's images are judged by the thresholds chosen on the
    other folds' images alone: how much choosing and measuring on the same images flatters
    it. From `fold_images`."""
    unsure = np.zeros(len(images["top"]), dtype=bool)
    for fold in np.unique(images["fold"]):
        here = images["fold"] == fold
        thresholds, _ = choose_thresholds({key: value[~here] for key, value in images.items()})
        unsure[here] = unsure_under({key: value[here] for key, value in images.items()}, thresholds)
    return abstention_figures(images["predicted"] == images["labels"], unsure)


def fold_scores(images: dict[str, np.ndarray]) -> dict[str, tuple[float, pd.Series]]:
    """Per fold, from `fold_images`: held-out macro-F1 and accuracy per held-out source."""
    scores = {}
    for fold in FOLDS:
        here = images["fold"] == fold.name
        labels, predicted = images["labels"][here], images["predicted"][here]
        macro_f1 = macro_f1_of(confusion(labels, predicted))
        right = pd.Series(labels == predicted).groupby(images["source"][here]).mean()
        scores[fold.name] = (float(macro_f1), right)
    return scores


def fold_selection(
    results: dict[str, Any],
    members: tuple[str, ...] = ENSEMBLES[RELEASE],
    seed: str | tuple[str, ...] = RELEASE_SEEDS,
) -> dict[str, Any]:
    """What recipes are chosen by: the mean over folds of the held-out macro-F1 of
    `members` under `seed`, and the "unsure" and asserted-error rates of the rule fitted
    to them at `ERROR_BOUND`."""
    return selection_figures(fold_images(results, members, seed))


def selection_figures(images: dict[str, np.ndarray]) -> dict[str, Any]:
    """`fold_selection`'s figures from `fold_images`."""
    _, figures = choose_thresholds(images)
    return {
        "mean held-out macro-F1": float(
            np.mean([macro_f1 for macro_f1, _ in fold_scores(images).values()])
        ),
        "unsure at the bound": figures["unsure_rate"],
        "asserted error at the bound": figures["asserted_error_rate"],
    }


def fit_rule(
    model_path: Path,
    val: dict[str, np.ndarray],
    holdout_results: dict[str, Any],
    members: tuple[str, ...] = ENSEMBLES[RELEASE],
    seed: str | tuple[str, ...] = RELEASE_SEEDS,
) -> UnsureRule:
    """Fit the rule of the model at `model_path` and save it beside the model, with the
    figures it gives on the fold images of its recipe (`members` under `seed`) and on `val`.

    An ensemble's members are calibrated inside the merged model, as its fold images are
    judged, so its rule keeps temperature 1.

    `val` holds the validation split's `labels`, raw `probabilities`, `distance_ratio` and
    `novelty_ratio`.
    """
    images = fold_images(holdout_results, members, seed)
    (probability, distance, novel), on_folds = choose_thresholds(images)
    single = len(member_runs(members, seed)) == 1
    rule = UnsureRule(
        temperature=fit_temperature(val["probabilities"], val["labels"]) if single else 1.0,
        min_probability=probability,
        max_distance_ratio=distance,
        max_novelty_ratio=novel,
        fitted_on=("temperature" if single else "each member's temperature, inside the model,")
        + f" on val; thresholds on the held-out images of {len(FOLDS)} leave-source-out folds",
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
