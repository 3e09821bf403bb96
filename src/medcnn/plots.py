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
