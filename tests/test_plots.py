"""Evaluation and prediction figures draw from real report structures."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd

from medcnn.config import CLASSES
from medcnn.evaluation.report import evaluate_probabilities, misclassified
from medcnn.inference.predictor import Prediction
from medcnn.presentation import figures as plots


def report() -> dict:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 300)
    logits = rng.normal(size=(300, 3)) + 3 * np.eye(3)[labels]
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    frame = pd.DataFrame({"source": [f"s{i % 4}" for i in range(300)], "modality": "MRI"})
    return evaluate_probabilities(probabilities, labels, frame, temperature=1.5, resamples=50)


def rgba(color) -> tuple[float, ...]:
    return tuple(float(c) for c in matplotlib.colors.to_rgba(color))


def test_confusion_matrices_annotate_the_counts_and_the_row_rates() -> None:
    figures_report = report()
    figure = plots.plot_confusion_matrices(figures_report, "test")
    counts = np.asarray(figures_report["confusion_matrix"])
    rates = counts / counts.sum(axis=1, keepdims=True)
    left, right = figure.axes
    assert [text.get_text() for text in left.texts] == [str(n) for n in counts.ravel()]
    assert [text.get_text() for text in right.texts] == [f"{r:.1%}" for r in rates.ravel()]
    for axis in (left, right):
        assert [tick.get_text() for tick in axis.get_xticklabels()] == list(CLASSES)
        assert [tick.get_text() for tick in axis.get_yticklabels()] == list(CLASSES)
        assert (axis.get_xlabel(), axis.get_ylabel()) == ("predicted class", "true class")
    assert (left.get_title(), right.get_title()) == ("images", "share of the true class")
    assert figure.get_suptitle() == "test"
    matplotlib.pyplot.close(figure)


def test_curves_draw_each_class_in_its_colour_with_its_area() -> None:
    figures_report = report()
    figures_report["curves"]["other"] = {"roc": None, "pr": None}  # a class absent from a split
    figure = plots.plot_curves(figures_report, "test")
    roc, pr = figure.axes
    drawn = ["brain", "lung"]
    for axis, kind, area, x, y in (
        (roc, "roc", "AUC", "fpr", "tpr"),
        (pr, "pr", "AP", "recall", "precision"),
    ):
        lines = [line for line in axis.get_lines() if not line.get_label().startswith("_")]
        key = "roc_auc" if kind == "roc" else "pr_auc"
        assert [line.get_label() for line in lines] == [
            f"{name} ({area} {figures_report['per_class'][name][key]:.3f})" for name in drawn
        ]
        for name, line in zip(drawn, lines, strict=True):
            assert rgba(line.get_color()) == rgba(plots.CLASS_COLORS[name])
            curve = figures_report["curves"][name][kind]
            np.testing.assert_allclose(line.get_xdata(), curve[x])
            np.testing.assert_allclose(line.get_ydata(), curve[y])
    assert (roc.get_title(), pr.get_title(), figure.get_suptitle()) == (
        "ROC",
        "Precision-recall",
        "test",
    )
    matplotlib.pyplot.close(figure)


def test_reliability_bars_are_the_accuracy_per_confidence_bin() -> None:
    figures_report = report()
    figure = plots.plot_reliability(figures_report, "test")
    for axis, stage in zip(figure.axes, ("before", "after"), strict=True):
        bins = figures_report["reliability"][stage]
        heights = [bar.get_height() for bar in axis.patches]
        expected = [np.nan if a is None else a for a in bins["accuracy"]]
        np.testing.assert_allclose(heights, expected)
        np.testing.assert_allclose([bar.get_x() for bar in axis.patches], bins["edges"][:-1])
    before, after = (axis.get_title() for axis in figure.axes)
    assert before.endswith(f"ECE {figures_report['ece']:.2%}")
    assert "T = 1.50" in after and after.endswith(
        f"ECE {figures_report['ece_after_temperature']:.2%}"
    )
    matplotlib.pyplot.close(figure)
    figures_report["reliability"]["after"] = None
    unfitted = plots.plot_reliability(figures_report, "test")
    assert unfitted.axes[1].get_title() == "after scaling: not fitted"
    assert not unfitted.axes[1].patches
    matplotlib.pyplot.close(unfitted)


def test_group_accuracy_orders_by_class_and_colours_each_bar() -> None:
    groups = report()["per_source"]
    labels = {"s0": "brain", "s1": "lung"}  # s2 and s3 have no class: grey, listed first
    figure = plots.plot_group_accuracy(groups, labels, "per source")
    axis = figure.axes[0]
    order = ["s2", "s3", "s0", "s1"]
    assert [tick.get_text() for tick in axis.get_yticklabels()] == order
    assert [bar.get_width() for bar in axis.patches] == [groups[g]["accuracy"] for g in order]
    colours = [rgba(bar.get_facecolor()) for bar in axis.patches]
    brain, lung = plots.CLASS_COLORS["brain"], plots.CLASS_COLORS["lung"]
    assert colours == [rgba(c) for c in ("#555555", "#555555", brain, lung)]
    assert [text.get_text() for text in axis.texts] == [f"n={groups[g]['n']}" for g in order]
    assert axis.get_title() == "per source"
    matplotlib.pyplot.close(figure)


def test_randomization_plots_the_correlation_of_each_step() -> None:
    steps = [
        {"randomized": "head", "spearman": 0.8, "per_image": [0.7, 0.9]},
        {"randomized": "conv", "spearman": 0.2, "per_image": [0.1, 0.3]},
    ]
    figure = plots.plot_randomization(steps, "check")
    axis = figure.axes[0]
    line = next(line for line in axis.get_lines() if list(line.get_xdata()) == [1, 2])
    assert list(line.get_ydata()) == [0.8, 0.2]
    assert [tick.get_text() for tick in axis.get_xticklabels()] == ["head", "conv"]
    assert axis.get_title() == "check"
    matplotlib.pyplot.close(figure)


def test_heatmaps_show_each_image_then_each_models_overlay() -> None:
    images = np.stack([np.full((8, 8, 1), 10, np.uint8), np.full((8, 8, 1), 200, np.uint8)])
    overlays = {"m": np.zeros((2, 8, 8, 3), np.uint8), "n": np.ones((2, 8, 8, 3), np.uint8)}
    figure = plots.plot_heatmaps(images, overlays, ["a", "b"], "maps")
    axes = np.array(figure.axes).reshape(2, 3)
    for row in range(2):
        np.testing.assert_array_equal(axes[row, 0].images[0].get_array(), images[row, ..., 0])
        assert axes[row, 0].get_ylabel() == ["a", "b"][row]
        for column, maps in enumerate(overlays.values(), start=1):
            np.testing.assert_array_equal(axes[row, column].images[0].get_array(), maps[row])
    assert [axis.get_title() for axis in axes[0]] == ["image", "m", "n"]
    assert figure.get_suptitle() == "maps"
    matplotlib.pyplot.close(figure)


def test_misclassified_gallery_shows_the_most_confident_mistakes() -> None:
    labels = np.array([0, 1, 2, 0])
    probabilities = np.array([[0.9, 0.1, 0], [0.8, 0.2, 0], [0, 0.4, 0.6], [0.1, 0.3, 0.6]])
    frame = pd.DataFrame({"source": ["a", "b", "c", "d"]})
    table = misclassified(probabilities, labels, frame)
    assert list(table["index"]) == [1, 3] and list(table["predicted"]) == ["brain", "other"]
    figure = plots.plot_misclassified(np.zeros((4, 8, 8, 1)), table, "test")
    assert "2 of 2 mistakes" in figure.get_suptitle()
    matplotlib.pyplot.close(figure)


def test_prediction_figure_shows_verdict_and_warnings() -> None:
    prediction = Prediction(
        name="scan.png",
        probabilities=dict(zip(CLASSES, (0.5, 0.3, 0.2), strict=True)),
        top_class="brain",
        label=None,
        pixels=np.zeros((128, 128), np.uint8),
        overlay=np.zeros((128, 128, 3), np.uint8),
        warnings=("the model is unsure",),
    )
    figure = plots.plot_prediction(prediction, truth="brain")
    assert "unsure" in figure.get_suptitle() and len(figure.axes) == 3
    assert figure.get_suptitle().endswith("(true class: brain)")
    bars = figure.axes[1].patches
    assert [bar.get_width() for bar in bars] == [0.5, 0.3, 0.2]
    assert [rgba(bar.get_facecolor()) for bar in bars] == [rgba(c) for c in plots.class_palette()]
    assert any("unsure" in text.get_text() for text in figure.texts)
    matplotlib.pyplot.close(figure)
