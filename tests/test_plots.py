"""Evaluation and prediction figures draw from real report structures."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from medcnn import plots
from medcnn.config import CLASSES
from medcnn.evaluate import evaluate_probabilities
from medcnn.predict import Prediction


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
        plots.plot_learning_curves(
            {
                "m": {
                    "loss": [1, 0.5],
                    "val_loss": [1, 0.6],
                    "accuracy": [0.5, 0.9],
                    "val_accuracy": [0.5, 0.8],
                }
            }
        ),
    ]
    for figure in figures:
        assert isinstance(figure, Figure) and figure.axes
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
