"""What notebook 02 shows: learning curves, comparison, folds, seeds, site augmentation."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import tensorflow as tf
from matplotlib.figure import Figure

from medcnn.modeling.artifacts import trainings
from medcnn.training.abstention import fold_images, fold_scores, fold_selection
from medcnn.training.augment import site_augment
from medcnn.training.holdout import (
    BLOCK_13,
    CANDIDATES,
    ENSEMBLES,
    RELEASE,
    finished_runs,
    mean_macro_f1,
)

CURVES = (("loss", "loss (cross-entropy)"), ("accuracy", "accuracy"))


def plot_learning_curves(histories: Sequence[tuple[str, pd.DataFrame]]) -> Figure:
    """Train (solid) and val (dashed) loss and accuracy per epoch, one column per model.

    A dotted line marks where a new phase (fine-tuning) starts; a dot marks the
    epoch the checkpoint kept (lowest val loss).
    """
    figure, axes = plt.subplots(
        2, len(histories), figsize=(4 * len(histories), 5.5), sharey="row", squeeze=False
    )
    for column, (title, history) in enumerate(histories):
        best = history.loc[history["val_loss"].idxmin()]
        for row, (metric, label) in enumerate(CURVES):
            axis = axes[row, column]
            axis.plot(history["epoch"], history[metric], "o-", color="C0", label="train")
            axis.plot(history["epoch"], history[f"val_{metric}"], "s--", color="C1", label="val")
            axis.plot(best["epoch"], best[f"val_{metric}"], "o", ms=11, mfc="none", color="k")
            for start in history.loc[history["phase"].diff() > 0, "epoch"]:
                axis.axvline(start - 0.5, color="grey", linestyle=":")
            axis.set(xlabel="epoch", ylabel=label if column == 0 else None)
            axis.xaxis.get_major_locator().set_params(integer=True)
        axes[0, column].set_title(title)
    axes[0, 0].legend(frameon=False)
    figure.suptitle("Learning curves (circled: the epoch kept)")
    figure.tight_layout()
    return figure


def comparison_table(cards: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """One row per model: accuracy and macro-F1 on test and external, size and speed."""
    rows = []
    for card in cards:
        metrics, training = card["metrics"], card["training"]
        rows.append(
            {
                "model": training["title"],
                "test accuracy": metrics["test"]["accuracy"],
                "test macro-F1": metrics["test"]["macro_f1"],
                "external accuracy": metrics["external"]["accuracy"],
                "external macro-F1": metrics["external"]["macro_f1"],
                "val macro-F1": metrics["val"]["macro_f1"],
                "parameters": training["parameters"],
                "epochs (kept)": " + ".join(
                    f"{member['epochs_run']} ({member['best_epoch']})" for member in trainings(card)
                ),
                "training s": training["seconds"],
                "train images/s": training["train_images_per_second"],
                "predict images/s": training["inference_images_per_second"],
            }
        )
    return pd.DataFrame(rows).set_index("model")


def fold_table(
    results: dict[str, Any], members: tuple[str, ...] = ENSEMBLES[RELEASE], seed: int = 0
) -> pd.DataFrame:
    """One row per leave-source-out fold, as `members` (one recipe, or an ensemble) under
    `seed` judged it: what the fold held out, its held-out macro-F1, and the held-out
    sources' accuracy (mean and worst, with the worst source's name)."""
    rows = {}
    for fold, (macro_f1, accuracy) in fold_scores(fold_images(results, members, str(seed))).items():
        rows[fold] = {
            "held out": ", ".join(name for name, _ in results["folds"][fold]["held_out"]),
            "held-out images": sum(results["folds"][fold]["held_out_images"].values()),
            "held-out macro-F1": macro_f1,
            "source accuracy, mean": accuracy.mean(),
            "source accuracy, worst": accuracy.min(),
            "worst source": accuracy.idxmin(),
        }
    return pd.DataFrame(rows).T.rename_axis("fold")


def seed_table(results: dict[str, Any]) -> pd.DataFrame:
    """One row per seed of the release: test and external macro-F1, the worst external
    source, the "unsure" figures on external, and open-set images asserted brain or lung."""
    rows = {}
    for seed, entry in results["seeds"].items():
        scores = entry["scores"]
        external = scores["external"]
        sources = pd.Series(external["source_accuracy"])
        rows[int(seed)] = {
            "test macro-F1": scores["test"]["macro_f1"],
            "external macro-F1": external["macro_f1"],
            "worst external source accuracy": sources.min(),
            "worst external source": sources.idxmin(),
            "external unsure rate": external["abstention"]["all"]["unsure_rate"],
            "external asserted error rate": external["abstention"]["all"]["asserted_error_rate"],
            "open set asserted brain/lung": scores["open_set"]["all"]["asserted_brain_or_lung"],
            "open set images": scores["open_set"]["all"]["images"],
        }
    return pd.DataFrame(rows).T.rename_axis("seed")


def plot_site_augmentation(images: np.ndarray, seed: int = 0, variants: int = 3) -> Figure:
    """Each canonical image (top row) and `variants` site-augmented versions below it."""
    rows = [np.asarray(images)[..., 0] if np.ndim(images) == 4 else np.asarray(images)]
    for variant in range(variants):
        rows.append(
            np.stack(
                [
                    site_augment(
                        image[..., np.newaxis], tf.constant([seed, variant * 997 + i])
                    ).numpy()[..., 0]
                    for i, image in enumerate(rows[0])
                ]
            )
        )
    figure, axes = plt.subplots(
        len(rows), len(rows[0]), figsize=(1.6 * len(rows[0]), 1.6 * len(rows)), squeeze=False
    )
    for r, row in enumerate(rows):
        for c, image in enumerate(row):
            axes[r, c].imshow(image, cmap="gray", vmin=0, vmax=255)
            axes[r, c].set_axis_off()
    figure.suptitle("Site augmentation: each image (top) and three versions the training sees")
    figure.tight_layout()
    return figure


def candidates_table(results: dict[str, Any]) -> pd.DataFrame:
    """One row per recipe scored on the folds and seed it finished under: held-out macro-F1 per
    fold and their mean, and the held-out sources' accuracy over all folds (mean and
    worst)."""
    rows = {}
    for name in results["candidates"]:
        for seed, folds in finished_runs(results, name).items():
            accuracy = pd.Series(
                {
                    source: value
                    for scores in folds.values()
                    for source, value in scores["held_out"]["source_accuracy"].items()
                }
            )
            row = {f"fold {fold}": s["held_out"]["macro_f1"] for fold, s in folds.items()}
            rows[(name, int(seed))] = row | {
                "mean held-out macro-F1": np.mean(
                    [s["held_out"]["macro_f1"] for s in folds.values()]
                ),
                "source accuracy, mean": accuracy.mean(),
                "source accuracy, worst": accuracy.min(),
            }
    return pd.DataFrame(rows).T.rename_axis(["recipe", "seed"])


def first_looks(results: dict[str, Any], baseline: str = BLOCK_13) -> pd.DataFrame:
    """Every other recipe under seed 0 against `baseline` under seed 0: mean held-out and
    val macro-F1 over the folds, and the lead on held-out images. A first look passes, and
    earns seeds 1 and 2, when it leads with its val not lower."""

    def means(name: str) -> tuple[float, float]:
        folds = finished_runs(results, name)["0"]
        return mean_macro_f1(folds), float(np.mean([s["val"]["macro_f1"] for s in folds.values()]))

    baseline_held_out, baseline_val = means(baseline)
    rows = {}
    for name in results["candidates"]:
        if name == baseline or "0" not in finished_runs(results, name):
            continue
        held_out, val = means(name)
        rows[name] = {
            "mean held-out macro-F1": held_out,
            "mean val macro-F1": val,
            f"lead over {baseline}": held_out - baseline_held_out,
            "passes": held_out > baseline_held_out and val >= baseline_val,
        }
    return pd.DataFrame(rows).T.rename_axis("recipe")


def selection_table(results: dict[str, Any]) -> pd.DataFrame:
    """One row per recipe (`holdout.CANDIDATES`) and ensemble of them (`holdout.ENSEMBLES`)
    and seed they finished under: mean held-out macro-F1 and the "unsure" and
    asserted-error rates of a rule fitted to their fold images."""
    rows = {}
    for name, members in {**{name: (name,) for name in CANDIDATES}, **ENSEMBLES}.items():
        seeds = set.intersection(*(set(finished_runs(results, member)) for member in members))
        for seed in sorted(seeds, key=int):
            rows[(name, int(seed))] = fold_selection(results, members, seed)
    return pd.DataFrame(rows).T.rename_axis(["recipe", "seed"])


def selection_verdict(
    table: pd.DataFrame, candidate: str = RELEASE, incumbent: str = BLOCK_13
) -> dict:
    """A recipe or ensemble against the one it would replace, from `selection_table`: each
    one's mean over the seeds both finished of held-out macro-F1 and "unsure" at the bound,
    the seeds compared, whether the candidate leads on both counts under them, and whether
    it wins (leads over seeds 0, 1 and 2)."""
    seeds = sorted(set(table.loc[candidate].index) & set(table.loc[incumbent].index))
    columns = ["mean held-out macro-F1", "unsure at the bound"]
    means = {
        name: table.loc[[(name, seed) for seed in seeds], columns].astype(float).mean()
        for name in (candidate, incumbent)
    }
    leads = bool(
        means[candidate]["mean held-out macro-F1"] > means[incumbent]["mean held-out macro-F1"]
        and means[candidate]["unsure at the bound"] < means[incumbent]["unsure at the bound"]
    )
    return {
        "seeds": seeds,
        "macro_f1": {name: float(m["mean held-out macro-F1"]) for name, m in means.items()},
        "unsure": {name: float(m["unsure at the bound"]) for name, m in means.items()},
        "leads": leads,
        "wins": leads and seeds == [0, 1, 2],
    }
