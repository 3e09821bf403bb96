"""What notebook 02 shows of the trained models: learning curves and a comparison table."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

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
                "epochs (kept)": f"{training['epochs_run']} ({training['best_epoch']})",
                "training s": training["seconds"],
                "train images/s": training["train_images_per_second"],
                "predict images/s": training["inference_images_per_second"],
            }
        )
    return pd.DataFrame(rows).set_index("model")
