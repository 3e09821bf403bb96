"""What notebook 02 shows: learning curves, comparison, folds, seeds, site augmentation."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import tensorflow as tf
from matplotlib.figure import Figure

from medcnn.config import CLASSES
from medcnn.modeling.artifacts import trainings
from medcnn.training.abstention import (
    choose_thresholds,
    fold_images,
    fold_scores,
    fold_selection,
    out_of_fold,
    selection_figures,
    unsure_under,
)
from medcnn.training.augment import site_augment
from medcnn.training.holdout import (
    BLOCK_13,
    CANDIDATES,
    ENSEMBLES,
    RELEASE,
    RELEASE_SEEDS,
    REPLICATES,
    RULE_SEEDS,
    finished_runs,
)
from medcnn.training.recipes import SEEDS_PER_MEMBER
from medcnn.training.seeds import same_code_as_release

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
    results: dict[str, Any],
    members: tuple[str, ...] = ENSEMBLES[RELEASE],
    seed: str | tuple[str, ...] = RELEASE_SEEDS,
) -> pd.DataFrame:
    """One row per leave-source-out fold, as `members` (one recipe, or an ensemble) under
    `seed` (one or several; by default as the release) judged it: what the fold held out,
    its held-out macro-F1, and the held-out sources' accuracy (mean and worst, with the
    worst source's name)."""
    rows = {}
    for fold, (macro_f1, accuracy) in fold_scores(fold_images(results, members, seed)).items():
        rows[fold] = {
            "held out": ", ".join(name for name, _ in results["folds"][fold]["held_out"]),
            "held-out images": sum(results["folds"][fold]["held_out_images"].values()),
            "held-out macro-F1": macro_f1,
            "source accuracy, mean": accuracy.mean(),
            "source accuracy, worst": accuracy.min(),
            "worst source": accuracy.idxmin(),
        }
    return pd.DataFrame(rows).T.rename_axis("fold")


def seed_table(results: dict[str, Any], release_card: dict[str, Any]) -> pd.DataFrame:
    """One row per seed of the release: test and external macro-F1, the worst external
    source, the "unsure" figures on external, open-set images asserted brain or lung, and
    whether its networks were trained by the release's training code."""
    same_code = same_code_as_release(results, release_card)
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
            "trained by the release's code": same_code[int(seed)],
        }
    return pd.DataFrame(rows).T.infer_objects().rename_axis("seed")


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


def first_looks(
    results: dict[str, Any], selection: pd.DataFrame, baseline: str = BLOCK_13
) -> pd.DataFrame:
    """Every other recipe under seed 0 against `baseline` under seed 0: mean held-out and
    val macro-F1 over the folds, the lead on held-out images, and "unsure" at the bound
    (from `selection_table`). A first look passed, and earned seeds 1 and 2, when it led
    with its val not lower; since the release is an ensemble, when it leads on both
    held-out macro-F1 and "unsure" at the bound (`selection_verdict`)."""
    under_seed_0 = selection.xs(0, level="seed", drop_level=False)

    def mean_val(name: str) -> float:
        folds = finished_runs(results, name)["0"]
        return float(np.mean([s["val"]["macro_f1"] for s in folds.values()]))

    rows = {}
    for name in results["candidates"]:
        if name == baseline or (name, 0) not in under_seed_0.index:
            continue
        look = selection_verdict(under_seed_0, name, baseline)
        held_out, val = look["macro_f1"][name], mean_val(name)
        passes = held_out > look["macro_f1"][baseline] and val >= mean_val(baseline)
        rows[name] = {
            "mean held-out macro-F1": held_out,
            "mean val macro-F1": val,
            f"lead over {baseline}": held_out - look["macro_f1"][baseline],
            "unsure at the bound": look["unsure"][name],
            "passes on macro-F1 and val": passes,
            "ahead on both figures": look["leads"],
        }
    return pd.DataFrame(rows).T.rename_axis("recipe")


def common_seeds(results: dict[str, Any], members: tuple[str, ...]) -> list[int]:
    """The seeds every one of `members` finished under."""
    seeds = set.intersection(*(set(finished_runs(results, member)) for member in members))
    return sorted(int(seed) for seed in seeds)


def replicate_seeds(
    results: dict[str, Any], members: tuple[str, ...], per_replicate: int
) -> dict[int, tuple[str, ...]]:
    """The replicates of `members` under `per_replicate` seeds each that finished: replicate k
    takes seeds k·n to k·n + n − 1 (`holdout.REPLICATES`)."""
    seeds = set(common_seeds(results, members))
    replicates = {}
    for k in range(max(seeds, default=-1) // per_replicate + 1):
        wanted = range(k * per_replicate, (k + 1) * per_replicate)
        if seeds.issuperset(wanted):
            replicates[k] = tuple(str(seed) for seed in wanted)
    return replicates


def rule_check(
    results: dict[str, Any],
    members: tuple[str, ...] = ENSEMBLES[RELEASE],
    per_replicate: int = SEEDS_PER_MEMBER,
) -> pd.DataFrame:
    """Per replicate of `members` that finished, each under `per_replicate` seeds (by
    default the release's): the "unsure" and asserted-error rates of the rule fitted to
    their fold images, measured on the same images and out of fold
    (`abstention.out_of_fold`)."""
    rows = {}
    for replicate, seeds in replicate_seeds(results, members, per_replicate).items():
        images = fold_images(results, members, seeds)
        fitted, held_out = selection_figures(images), out_of_fold(images)
        rows[replicate] = {
            ("on the images it was chosen on", "unsure"): fitted["unsure at the bound"],
            ("on the images it was chosen on", "asserted error"): fitted[
                "asserted error at the bound"
            ],
            ("chosen on the other folds", "unsure"): held_out["unsure_rate"],
            ("chosen on the other folds", "asserted error"): held_out["asserted_error_rate"],
        }
    return pd.DataFrame(rows).T.rename_axis("replicate")


def rule_without(
    results: dict[str, Any],
    left_out: np.ndarray,
    members: tuple[str, ...] = ENSEMBLES[RELEASE],
    seed: str | tuple[str, ...] = RELEASE_SEEDS,
) -> dict[str, Any]:
    """The rule fitted to the fold images of `members` under `seed` with the images marked
    in `left_out` (in `fold_images` order) left out: its thresholds and figures there."""
    images = fold_images(results, members, seed)
    thresholds, figures = choose_thresholds(
        {key: value[~left_out] for key, value in images.items()}
    )
    return {"thresholds": thresholds, **figures}


def thresholds_text(thresholds: tuple[float, float | None, float | None]) -> str:
    """A rule's (probability floor, distance ceiling, novelty ceiling) in words; a ceiling
    that is None or infinite is none."""
    floor, distance, novelty = thresholds

    def ceiling(value: float | None) -> str:
        return "none" if value is None or np.isinf(value) else f"{value:g}"

    return (
        f"floor {floor:.2f}, distance ceiling {ceiling(distance)}, "
        f"novelty ceiling {ceiling(novelty)}"
    )


def rule_on(
    results: dict[str, Any],
    chosen: np.ndarray,
    thresholds: tuple[float, float, float],
    members: tuple[str, ...] = ENSEMBLES[RELEASE],
    seed: str | tuple[str, ...] = RELEASE_SEEDS,
) -> dict[str, Any]:
    """How the rule with `thresholds` answers the fold images marked in `chosen` (in
    `fold_images` order), as judged by `members` under `seed`: how many there are, how
    many it leaves wrong and asserted, and how many are answered with each class, with
    the median calibrated top probability of those answers."""
    images = {key: value[chosen] for key, value in fold_images(results, members, seed).items()}
    wrong = images["predicted"] != images["labels"]
    answered = pd.Series(np.asarray(CLASSES)[images["predicted"]])
    return {
        "images": int(chosen.sum()),
        "wrong and asserted": int(np.sum(wrong & ~unsure_under(images, thresholds))),
        "answered": answered.value_counts().reindex(CLASSES, fill_value=0).to_dict(),
        "median top probability": pd.Series(images["top"]).groupby(answered).median().to_dict(),
    }


def selection_table(results: dict[str, Any]) -> pd.DataFrame:
    """One row per recipe (`holdout.CANDIDATES`), ensemble of them (`holdout.ENSEMBLES`) and
    ensemble under several seeds (`holdout.REPLICATES`), and seed or replicate they finished
    under: mean held-out macro-F1 and the "unsure" and asserted-error rates of a rule fitted
    to their fold images."""
    rows = {}
    for name, members in {**{name: (name,) for name in CANDIDATES}, **ENSEMBLES}.items():
        for seed in common_seeds(results, members):
            rows[(name, seed)] = fold_selection(results, members, str(seed))
    for name, (members, per_replicate) in REPLICATES.items():
        for k, seeds in replicate_seeds(results, members, per_replicate).items():
            rows[(name, k)] = fold_selection(results, members, seeds)
    return pd.DataFrame(rows).T.rename_axis(["recipe", "seed"])


def selection_verdict(
    table: pd.DataFrame, candidate: str = RELEASE, incumbent: str = BLOCK_13
) -> dict:
    """A recipe or ensemble against the one it would replace, from `selection_table`: each
    one's mean over the seeds both finished of held-out macro-F1 and "unsure" at the bound,
    the seeds compared, whether the candidate leads on both counts under them, and whether
    it wins (leads over seeds 0, 1 and 2). Seeds beyond those are left out, as the rules
    were set over them.

    An ensemble under several seeds (`holdout.REPLICATES`) is compared by its replicates
    0, 1 and 2 against the incumbent under every seed their runs used; it wins with all
    three."""
    finished = set(table.loc[candidate].index) & set(table.loc[incumbent].index)
    seeds = sorted(finished & set(RULE_SEEDS))
    incumbent_seeds = seeds
    if candidate in REPLICATES:
        seeds = sorted(set(table.loc[candidate].index) & set(RULE_SEEDS))
        per_replicate = REPLICATES[candidate][1]
        incumbent_seeds = [k * per_replicate + i for k in seeds for i in range(per_replicate)]
    columns = ["mean held-out macro-F1", "unsure at the bound"]
    means = {
        name: table.loc[[(name, seed) for seed in compared], columns].astype(float).mean()
        for name, compared in ((candidate, seeds), (incumbent, incumbent_seeds))
    }
    leads = bool(
        means[candidate]["mean held-out macro-F1"] > means[incumbent]["mean held-out macro-F1"]
        and means[candidate]["unsure at the bound"] < means[incumbent]["unsure at the bound"]
    )
    return {
        "seeds": seeds,
        "incumbent_seeds": incumbent_seeds,
        "macro_f1": {name: float(m["mean held-out macro-F1"]) for name, m in means.items()},
        "unsure": {name: float(m["unsure at the bound"]) for name, m in means.items()},
        "leads": leads,
        "wins": leads and seeds == list(RULE_SEEDS),
    }


def spread_markdown(table: pd.DataFrame, name: str, unit: str = "seed") -> str:
    """The lowest and highest of both figures of `selection_table` over the seeds (or
    replicates) `name` finished under, as a sentence."""
    figures = table.loc[name, ["mean held-out macro-F1", "unsure at the bound"]].astype(float)
    low, high = figures.min(), figures.max()
    return (
        f"**{name}**, {numbered(unit, list(figures.index))}: mean held-out macro-F1 from "
        f'{low.iloc[0]:.4f} to {high.iloc[0]:.4f}, and "unsure" at the bound from '
        f"{low.iloc[1]:.1%} to {high.iloc[1]:.1%}."
    )


def numbered(noun: str, values: Sequence[int]) -> str:
    """'no seed', 'seed 0', 'seeds 0 and 1', 'seeds 0, 1 and 2'."""
    if not values:
        return f"no {noun}"
    if len(values) == 1:
        return f"{noun} {values[0]}"
    return f"{noun}s {', '.join(map(str, values[:-1]))} and {values[-1]}"


def verdict_markdown(look: dict[str, Any], candidate: str, incumbent: str) -> str:
    """A `selection_verdict` in a sentence: both figures for both, and what the rule does."""
    if look["seeds"] == look["incumbent_seeds"]:
        compared = f"over {numbered('seed', look['seeds'])}"
    else:
        compared = (
            f"over its {numbered('replicate', look['seeds'])}, against {incumbent} under "
            f"{numbered('seed', look['incumbent_seeds'])}"
        )
    if look["wins"]:
        outcome = f"ahead on both over all three, so by its rule it replaces {incumbent}"
    elif look["leads"]:
        outcome = "ahead on both so far, so its remaining seeds are the next runs"
    else:
        outcome = f"not ahead on both, so by its rule {incumbent} stays"
    return (
        f"**{candidate}** ({compared}): mean held-out macro-F1 "
        f"{look['macro_f1'][candidate]:.4f} against {look['macro_f1'][incumbent]:.4f} for "
        f'{incumbent}; "unsure" on {look["unsure"][candidate]:.1%} of the held-out images '
        f"against {look['unsure'][incumbent]:.1%}: {outcome}."
    )
