"""Evaluation and prediction figures draw from real report structures."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

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


def test_evaluation_figures() -> None:
    figures_report = report()
    figures = [
        plots.plot_confusion_matrices(figures_report, "test"),
        plots.plot_curves(figures_report, "test"),
        plots.plot_reliability(figures_report, "test"),
        plots.plot_group_accuracy(figures_report["per_source"], {"s0": "brain"}, "per source"),
        plots.plot_randomization(
            [{"randomized": "dense", "spearman": 0.2, "per_image": [0.1, 0.3]}], "check"
        ),
        plots.plot_heatmaps(
            np.zeros((2, 8, 8, 1)), {"m": np.zeros((2, 8, 8, 3), np.uint8)}, ["a", "b"], "maps"
        ),
    ]
    for figure in figures:
        assert isinstance(figure, Figure) and figure.axes
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
    assert any("unsure" in text.get_text() for text in figure.texts)
    matplotlib.pyplot.close(figure)
