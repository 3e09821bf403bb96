"""The answer for a volume as a figure: probabilities, the supporting slice's Grad-CAM, and
the strip of used slices with their per-slice verdicts."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from medcnn.config import CLASSES
from medcnn.presentation.figures import CLASS_COLORS, class_palette

STRIP_COLUMNS = 8


def plot_study(study, truth: str | None = None) -> Figure:
    """A `StudyPrediction`: bars and heatmap on top, the used slices below (unsure ones "?")."""
    rows = math.ceil(len(study.slices) / STRIP_COLUMNS)
    figure = plt.figure(figsize=(1.3 * STRIP_COLUMNS, 3.2 + 1.4 * rows), layout="constrained")
    grid = figure.add_gridspec(1 + rows, STRIP_COLUMNS, height_ratios=[2.4] + [1] * rows)
    bars = figure.add_subplot(grid[0, : STRIP_COLUMNS // 2])
    shares = [study.probabilities[name] for name in CLASSES]
    bars.barh(list(CLASSES), shares, color=class_palette())
    bars.set(xlim=(0, 1), xlabel="mean probability over the used slices")
    bars.invert_yaxis()
    for row, share in enumerate(shares):
        bars.text(min(share + 0.02, 0.8), row, f"{share:.1%}", va="center", fontsize=8)
    if study.overlay is not None:
        heatmap = figure.add_subplot(grid[0, STRIP_COLUMNS // 2 + 1 : STRIP_COLUMNS - 1])
        heatmap.imshow(study.overlay)
        heatmap.set_title(
            f"Grad-CAM for {study.top_class}, slice {study.explained_slice}", fontsize=9
        )
        heatmap.axis("off")
    for position, (pixels, verdict) in enumerate(zip(study.pixels, study.slices, strict=True)):
        axis = figure.add_subplot(grid[1 + position // STRIP_COLUMNS, position % STRIP_COLUMNS])
        axis.imshow(pixels, cmap="gray", vmin=0, vmax=255)
        mark = "?" if verdict.unsure else ""
        axis.set_title(
            f"{verdict.index}: {mark}{verdict.top_class}",
            fontsize=7,
            color=CLASS_COLORS[verdict.top_class],
        )
        axis.axis("off")
    truth_text = f" (true class: {truth})" if truth else ""
    figure.suptitle(f"{Path(study.name).name}: {study.summary()}{truth_text}", fontsize=10)
    notes = "\n".join(f"⚠ {w}" for w in study.warnings)
    figure.supxlabel(notes, fontsize=7, x=0.01, ha="left")
    return figure
