"""Figures for the book: one message per figure, titled, labelled, same class colours everywhere."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from medcnn.config import CLASSES

CLASS_COLORS = {"brain": "#0072B2", "lung": "#E69F00", "other": "#009E73"}
"""Okabe-Ito colours, distinguishable with the common colour-vision deficiencies."""


def class_palette() -> list[str]:
    return [CLASS_COLORS[name] for name in CLASSES]


def plot_class_balance(split_counts: pd.DataFrame) -> Figure:
    """Stacked bars of images per split and class (`split_table` without its totals)."""
    counts = split_counts.drop(index="total", columns="total", errors="ignore")
    figure, axis = plt.subplots(figsize=(7, 3.5))
    counts.loc[:, list(CLASSES)].plot.bar(stacked=True, color=class_palette(), ax=axis, rot=0)
    axis.set(title="Images per split and class", xlabel="split", ylabel="images")
    axis.legend(title="class", frameon=False)
    figure.tight_layout()
    return figure


def plot_source_balance(source_splits: pd.DataFrame) -> Figure:
    """Horizontal bars per source, coloured by class, showing how each source was split."""
    table = source_splits.sort_index(level=[0, 1])
    labels = [f"{source}" for _, source in table.index]
    classes = [label for label, _ in table.index]
    figure, axis = plt.subplots(figsize=(8, 0.28 * len(table) + 1.2))
    left = np.zeros(len(table))
    hatches = {"train": "", "val": "//", "test": "..", "external": "xx"}
    for split in table.columns:
        values = table[split].to_numpy()
        axis.barh(
            labels,
            values,
            left=left,
            color=[CLASS_COLORS[c] for c in classes],
            hatch=hatches.get(split, ""),
            edgecolor="white",
            label=split,
        )
        left += values
    axis.invert_yaxis()
    axis.set_xscale("symlog", linthresh=100)
    axis.set(title="Images per source, by split (hatching) and class (colour)", xlabel="images")
    handles = [
        plt.Rectangle((0, 0), 1, 1, facecolor="grey", hatch=h, edgecolor="white")
        for h in hatches.values()
    ]
    axis.legend(handles, list(hatches), title="split", frameon=False, loc="lower right")
    figure.tight_layout()
    return figure


def plot_image_grid(
    images: np.ndarray, titles: Sequence[str], columns: int = 8, title: str = ""
) -> Figure:
    """Grayscale images in a grid, each with a short caption."""
    rows = int(np.ceil(len(images) / columns))
    figure, axes = plt.subplots(rows, columns, figsize=(1.6 * columns, 1.8 * rows), squeeze=False)
    for axis in axes.ravel():
        axis.axis("off")
    for axis, image, caption in zip(axes.ravel(), images, titles, strict=False):
        axis.imshow(np.squeeze(image), cmap="gray", vmin=0, vmax=255)
        axis.set_title(caption, fontsize=7)
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    return figure


def plot_size_distribution(manifest: pd.DataFrame) -> Figure:
    """Stored width × height per image, and aspect ratio per class: what canonicalisation undoes."""
    figure, (sizes, aspects) = plt.subplots(1, 2, figsize=(10, 4))
    for name in CLASSES:
        rows = manifest[manifest["label"] == name]
        sizes.scatter(rows["width"], rows["height"], s=6, alpha=0.3, color=CLASS_COLORS[name])
        aspect = rows["width"] / rows["height"]
        aspects.hist(np.log2(aspect), bins=40, alpha=0.6, color=CLASS_COLORS[name], label=name)
    sizes.set(xscale="log", yscale="log", xlabel="width (px)", ylabel="height (px)")
    sizes.set_title("Stored image sizes")
    aspects.set(xlabel="log2(width / height)", ylabel="images", yscale="log")
    aspects.set_title("Aspect ratios (0 = square)")
    aspects.legend(title="class", frameon=False)
    figure.tight_layout()
    return figure


def plot_intensity_distribution(pixels: np.ndarray, labels: Sequence[str]) -> Figure:
    """Per-image mean and standard deviation of canonical pixels, by class."""
    flat = pixels.reshape(len(pixels), -1)
    means, spreads = flat.mean(axis=1), flat.std(axis=1)
    labels = np.asarray(labels)
    figure, (by_mean, by_spread) = plt.subplots(1, 2, figsize=(10, 3.5))
    for name in CLASSES:
        chosen = labels == name
        style = {"bins": 50, "alpha": 0.55, "color": CLASS_COLORS[name], "label": name}
        by_mean.hist(means[chosen], range=(0, 255), **style)
        by_spread.hist(spreads[chosen], range=(0, 128), **style)
    by_mean.set(title="Mean intensity per image", xlabel="mean (0-255)", ylabel="images")
    by_spread.set(title="Contrast per image", xlabel="standard deviation", ylabel="images")
    by_mean.legend(title="class", frameon=False)
    figure.tight_layout()
    return figure


def plot_group_sizes(manifest: pd.DataFrame) -> Figure:
    """How many images each group holds: the unit the split keeps together."""
    sizes = manifest.groupby("group").size()
    figure, axis = plt.subplots(figsize=(7, 3.2))
    bins = np.unique(np.logspace(0, np.log10(sizes.max() + 1), 30).astype(int))
    axis.hist(sizes, bins=bins, color="#555555")
    axis.set(xscale="log", yscale="log", xlabel="images in the group", ylabel="groups")
    axis.set_title(f"{len(sizes):,} groups: patients joined with their near twins")
    figure.tight_layout()
    return figure


def plot_pair_examples(pixels: np.ndarray, pairs: pd.DataFrame, captions: Sequence[str]) -> Figure:
    """Near-duplicate pairs side by side (top row first image, bottom row its twin)."""
    columns = len(pairs)
    figure, axes = plt.subplots(2, columns, figsize=(1.7 * columns, 3.9), squeeze=False)
    for column, (pair, caption) in enumerate(zip(pairs.itertuples(), captions, strict=True)):
        for row, index in enumerate((pair.first, pair.second)):
            axis = axes[row, column]
            axis.imshow(pixels[index], cmap="gray", vmin=0, vmax=255)
            axis.axis("off")
        axes[0, column].set_title(caption, fontsize=7)
    figure.tight_layout()
    return figure


def plot_prediction(prediction, truth: str | None = None) -> Figure:
    """One upload's answer: the image as the model sees it, the probabilities, the heatmap."""
    panels = 3 if prediction.overlay is not None else 2
    figure, axes = plt.subplots(1, panels, figsize=(3.2 * panels, 3.0))
    axes[0].imshow(prediction.pixels, cmap="gray", vmin=0, vmax=255)
    axes[0].set_title("what the model sees", fontsize=9)
    axes[0].axis("off")
    shares = [prediction.probabilities[name] for name in CLASSES]
    axes[1].barh(list(CLASSES), shares, color=class_palette())
    axes[1].set(xlim=(0, 1), xlabel="probability")
    axes[1].invert_yaxis()
    for row, share in enumerate(shares):
        axes[1].text(min(share + 0.02, 0.8), row, f"{share:.1%}", va="center", fontsize=8)
    if prediction.overlay is not None:
        axes[2].imshow(prediction.overlay)
        axes[2].set_title(f"Grad-CAM for {prediction.top_class}", fontsize=9)
        axes[2].axis("off")
    truth_text = f" (true class: {truth})" if truth else ""
    figure.suptitle(f"{prediction.name}: {prediction.summary()}{truth_text}", fontsize=10)
    if prediction.warnings:
        figure.text(0.01, -0.02, "\n".join(f"⚠ {w}" for w in prediction.warnings), fontsize=7)
    figure.tight_layout()
    return figure


def plot_confusion_matrices(report: dict, title: str) -> Figure:
    """Counts and row-normalised rates (recall on the diagonal) of one evaluation report."""
    import seaborn as sns

    counts = np.asarray(report["confusion_matrix"])
    rates = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    style = {"xticklabels": CLASSES, "yticklabels": CLASSES, "cbar": False, "square": True}
    sns.heatmap(counts, annot=True, fmt="d", cmap="Blues", ax=left, **style)
    sns.heatmap(rates, annot=True, fmt=".1%", cmap="Blues", vmin=0, vmax=1, ax=right, **style)
    for axis, what in ((left, "images"), (right, "share of the true class")):
        axis.set(xlabel="predicted class", ylabel="true class", title=what)
    figure.suptitle(title)
    figure.tight_layout()
    return figure


def plot_curves(report: dict, title: str) -> Figure:
    """One-vs-rest ROC and precision-recall curves per class, with their areas."""
    figure, (roc, pr) = plt.subplots(1, 2, figsize=(10, 4))
    for name in CLASSES:
        curve, figures = report["curves"][name], report["per_class"][name]
        if curve["roc"] is None:
            continue
        color = CLASS_COLORS[name]
        roc.plot(
            curve["roc"]["fpr"],
            curve["roc"]["tpr"],
            color=color,
            label=f"{name} (AUC {figures['roc_auc']:.3f})",
        )
        pr.plot(
            curve["pr"]["recall"],
            curve["pr"]["precision"],
            color=color,
            label=f"{name} (AP {figures['pr_auc']:.3f})",
        )
    roc.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
    roc.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC")
    pr.set(xlabel="recall", ylabel="precision", title="Precision-recall", ylim=(0, 1.02))
    for axis in (roc, pr):
        axis.legend(frameon=False, loc="lower left" if axis is pr else "lower right")
    figure.suptitle(title)
    figure.tight_layout()
    return figure


def plot_reliability(report: dict, title: str) -> Figure:
    """Accuracy against confidence per bin, before and after temperature scaling."""
    figure, axes = plt.subplots(1, 2, figsize=(9, 4), sharey=True)
    stages = (("before", report["ece"]), ("after", report.get("ece_after_temperature")))
    for axis, (stage, ece) in zip(axes, stages, strict=True):
        bins = report["reliability"][stage]
        axis.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
        if bins is None:
            axis.set_title(f"{stage} scaling: not fitted")
            continue
        edges = np.asarray(bins["edges"])
        accuracy = [np.nan if a is None else a for a in bins["accuracy"]]
        axis.bar(
            edges[:-1],
            accuracy,
            width=np.diff(edges),
            align="edge",
            color="#0072B2",
            edgecolor="white",
            alpha=0.8,
        )
        temperature = f", T = {report['temperature']:.2f}" if stage == "after" else ""
        axis.set_title(f"{stage} temperature scaling{temperature}\nECE {ece:.2%}")
        axis.set(xlabel="confidence (top probability)", xlim=(0, 1), ylim=(0, 1))
    axes[0].set_ylabel("accuracy")
    figure.suptitle(title)
    figure.tight_layout()
    return figure


def plot_group_accuracy(groups: dict, labels: dict[str, str], title: str) -> Figure:
    """Accuracy per source (or modality) with its bootstrap interval, coloured by class."""
    names = sorted(groups, key=lambda g: (labels.get(g, ""), g))
    accuracy = np.array([groups[g]["accuracy"] for g in names])
    low = accuracy - np.array([groups[g]["accuracy_ci"][0] for g in names])
    high = np.array([groups[g]["accuracy_ci"][1] for g in names]) - accuracy
    colors = [CLASS_COLORS.get(labels.get(g, ""), "#555555") for g in names]
    figure, axis = plt.subplots(figsize=(7, 0.3 * len(names) + 1.2))
    axis.barh(names, accuracy, xerr=[low, high], color=colors, capsize=2)
    for row, g in enumerate(names):
        axis.text(0.01, row, f"n={groups[g]['n']}", va="center", fontsize=7, color="white")
    axis.invert_yaxis()
    axis.set(xlim=(0, 1.0), xlabel="accuracy (95% bootstrap interval)", title=title)
    figure.tight_layout()
    return figure


def plot_misclassified(images: np.ndarray, table: pd.DataFrame, title: str, limit: int = 12):
    """The misclassified images of `misclassified(...)`, most confident mistakes first."""
    shown = table.head(limit)
    columns = 6
    rows = max(1, -(-len(shown) // columns))
    figure, axes = plt.subplots(rows, columns, figsize=(2.0 * columns, 2.35 * rows), squeeze=False)
    for axis in axes.flat:
        axis.axis("off")
    for axis, row in zip(axes.flat, shown.itertuples(), strict=False):
        axis.imshow(np.asarray(images[row.index]).squeeze(), cmap="gray", vmin=0, vmax=255)
        axis.set_title(
            f"{row.true} → {row.predicted} ({row.probability:.0%})\n{row.source}", fontsize=7
        )
    figure.suptitle(f"{title}: {len(shown)} of {len(table)} mistakes, most confident first")
    figure.tight_layout()
    return figure


def plot_heatmaps(
    images: np.ndarray,
    overlays: dict[str, np.ndarray],
    captions: Sequence[str],
    title: str,
) -> Figure:
    """One row per image: the image, then each model's Grad-CAM overlay (`overlays[model]`)."""
    columns = 1 + len(overlays)
    figure, axes = plt.subplots(
        len(images), columns, figsize=(2.3 * columns, 2.3 * len(images)), squeeze=False
    )
    for row, image in enumerate(images):
        axes[row, 0].imshow(np.asarray(image).squeeze(), cmap="gray", vmin=0, vmax=255)
        axes[row, 0].set_ylabel(captions[row], fontsize=7, rotation=0, ha="right", va="center")
        for column, (model, maps) in enumerate(overlays.items(), start=1):
            axes[row, column].imshow(maps[row])
            if row == 0:
                axes[row, column].set_title(model, fontsize=8)
        if row == 0:
            axes[row, 0].set_title("image", fontsize=8)
    for axis in axes.flat:
        axis.set_xticks([])
        axis.set_yticks([])
    figure.suptitle(title)
    figure.tight_layout()
    return figure


def plot_randomization(steps: Sequence[dict], title: str) -> Figure:
    """Rank correlation of Grad-CAM with the trained model's, as its weights are randomized."""
    names = [step["randomized"] for step in steps]
    spread = [step["per_image"] for step in steps]
    figure, axis = plt.subplots(figsize=(min(12.0, max(5.0, 0.32 * len(names) + 2)), 3.6))
    axis.boxplot(spread, showfliers=False)
    axis.plot(range(1, len(names) + 1), [s["spearman"] for s in steps], "o-", color="#D55E00")
    axis.axhline(1.0, color="grey", linestyle=":", linewidth=1)
    axis.axhline(0.0, color="grey", linewidth=0.5)
    every = max(1, len(names) // 30)  # about 30 names fit along the axis
    ticks = range(1, len(names) + 1, every)
    axis.set_xticks(ticks, [names[t - 1] for t in ticks], rotation=90, fontsize=7)
    axis.set(ylabel="Spearman vs trained map", ylim=(-1.05, 1.05), title=title)
    axis.set_xlabel("randomized down to this block or layer (output first)")
    figure.tight_layout()
    return figure


def plot_risk_coverage(curves: dict[str, pd.DataFrame], points: dict[str, dict]) -> Figure:
    """Error among the answers given against the share answered, one line per split, with
    the operating point of the "unsure" rule marked on each."""
    figure, axis = plt.subplots(figsize=(6, 4.2))
    for index, (split, curve) in enumerate(curves.items()):
        color = f"C{index}"
        axis.plot(curve["coverage"], curve["risk"], color=color, label=split)
        point = points[split]
        coverage = 1 - point["unsure_rate"]
        risk = point["asserted_error_rate"] / coverage if coverage else 0.0
        axis.plot(coverage, risk, "o", color=color, ms=8, mfc="white")
    axis.set(
        xlabel="coverage (share of images answered)",
        ylabel="risk (error among the answers given)",
        title="Risk–coverage, answering the most confident first (circle: the unsure rule)",
        xlim=(0, 1.01),
    )
    axis.set_ylim(bottom=0)
    axis.legend(frameon=False)
    figure.tight_layout()
    return figure
