"""Metrics against scikit-learn on known inputs, and bootstrap intervals with known answers."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
    roc_auc_score,
)

from medcnn.config import CLASSES
from medcnn.evaluation.metrics import (
    RESAMPLES_PER_CHUNK,
    bootstrap_confusions,
    classification_metrics,
    confusion,
    group_accuracy,
    macro_f1_of,
    percentile_interval,
)


@pytest.fixture
def predictions() -> tuple[np.ndarray, np.ndarray]:
    """Labels and noisy probabilities that are right about two times in three."""
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 3, 300)
    logits = rng.normal(0, 1, (300, 3))
    logits[np.arange(300), labels] += 1.2
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return labels, probabilities


def test_figures_match_scikit_learn(predictions) -> None:
    labels, probabilities = predictions
    predicted = probabilities.argmax(axis=1)
    report = classification_metrics(labels, probabilities, resamples=50)
    assert report["accuracy"] == pytest.approx(accuracy_score(labels, predicted))
    assert report["macro_f1"] == pytest.approx(f1_score(labels, predicted, average="macro"))
    assert report["confusion_matrix"] == confusion_matrix(labels, predicted).tolist()
    precision, recall, f1, support = precision_recall_fscore_support(labels, predicted)
    for k, name in enumerate(CLASSES):
        row = report["per_class"][name]
        assert row["precision"] == pytest.approx(precision[k])
        assert row["recall"] == pytest.approx(recall[k])
        assert row["f1"] == pytest.approx(f1[k])
        assert row["support"] == support[k]
        assert row["roc_auc"] == pytest.approx(roc_auc_score(labels == k, probabilities[:, k]))
        assert row["pr_auc"] == pytest.approx(
            average_precision_score(labels == k, probabilities[:, k])
        )
    assert report["roc_auc_macro"] == pytest.approx(
        roc_auc_score(labels, probabilities, multi_class="ovr", average="macro")
    )
    roc = report["curves"]["lung"]["roc"]
    assert roc["fpr"][0] == 0.0 and roc["tpr"][-1] == 1.0


def test_undefined_figures_when_a_class_is_missing() -> None:
    labels = np.array([0, 0, 1, 1, 0])
    probabilities = np.array(
        [[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.1, 0.8, 0.1], [0.3, 0.6, 0.1], [0.6, 0.3, 0.1]]
    )
    predicted = probabilities.argmax(axis=1)
    report = classification_metrics(labels, probabilities, resamples=20)
    assert report["per_class"]["other"] == {
        "precision": 0.0,
        "recall": 0.0,
        "f1": 0.0,
        "support": 0,
        "roc_auc": None,
        "pr_auc": None,
        "f1_ci": None,
    }
    assert report["curves"]["other"] == {"roc": None, "pr": None}
    # Macro-F1 averages the classes that occur, as scikit-learn does by default.
    assert report["macro_f1"] == pytest.approx(f1_score(labels, predicted, average="macro"))
    *_, f1, _ = precision_recall_fscore_support(
        labels, predicted, labels=[0, 1, 2], zero_division=0
    )
    assert [report["per_class"][c]["f1"] for c in CLASSES] == pytest.approx(f1)


def test_confusion_stack_matches_single_matrices(predictions) -> None:
    labels, probabilities = predictions
    predicted = probabilities.argmax(axis=1)
    stack = bootstrap_confusions(labels, predicted, resamples=450, seed=3)
    assert stack.shape == (450, 3, 3) and (stack.sum(axis=(1, 2)) == len(labels)).all()
    # Each resample is a real confusion matrix: check one against a direct computation.
    rng = np.random.default_rng(3)
    drawn = rng.integers(0, len(labels), (RESAMPLES_PER_CHUNK, len(labels)))[0]
    np.testing.assert_array_equal(stack[0], confusion(labels[drawn], predicted[drawn]))
    assert macro_f1_of(stack[0]) == pytest.approx(
        f1_score(labels[drawn], predicted[drawn], average="macro")
    )


def test_bootstrap_interval_of_a_known_proportion() -> None:
    # 1,600 of 2,000 right: the 95 % interval is 0.8 ± 1.96 · sqrt(0.8 · 0.2 / 2000) ≈ ± 0.0175.
    labels = np.zeros(2000, dtype=int)
    predicted = np.where(np.arange(2000) < 1600, 0, 1)
    probabilities = np.eye(3)[predicted]
    report = classification_metrics(labels, probabilities, resamples=2000, seed=0)
    low, high = report["accuracy_ci"]
    half_width = 1.96 * np.sqrt(0.8 * 0.2 / 2000)
    assert low == pytest.approx(0.8 - half_width, abs=0.003)
    assert high == pytest.approx(0.8 + half_width, abs=0.003)


def test_bootstrap_interval_of_a_perfect_model_is_a_point(predictions) -> None:
    labels, _ = predictions
    report = classification_metrics(labels, np.eye(3)[labels], resamples=100)
    assert report["accuracy_ci"] == [1.0, 1.0] and report["macro_f1_ci"] == [1.0, 1.0]


def test_bootstrap_is_seeded(predictions) -> None:
    labels, probabilities = predictions
    first = classification_metrics(labels, probabilities, resamples=100, seed=5)
    again = classification_metrics(labels, probabilities, resamples=100, seed=5)
    other = classification_metrics(labels, probabilities, resamples=100, seed=6)
    assert first["macro_f1_ci"] == again["macro_f1_ci"] != other["macro_f1_ci"]
    assert first["macro_f1_ci"][0] < first["macro_f1"] < first["macro_f1_ci"][1]


def test_percentile_interval() -> None:
    assert percentile_interval(np.arange(101.0), confidence=0.9) == pytest.approx([5.0, 95.0])


def test_accuracy_per_group() -> None:
    labels = np.array([0, 0, 1, 1, 2, 2])
    predicted = np.array([0, 1, 1, 1, 2, 0])
    groups = np.array(["a", "a", "b", "b", "c", "c"])
    table = group_accuracy(labels, predicted, groups, resamples=50)
    assert {name: row["accuracy"] for name, row in table.items()} == {"a": 0.5, "b": 1.0, "c": 0.5}
    assert table["b"]["accuracy_ci"] == [1.0, 1.0]
    assert table["a"]["n"] == 2 and table["a"]["predicted"] == {"brain": 1, "lung": 1, "other": 0}


def test_per_class_f1_interval_brackets_the_f1() -> None:
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 3, 400)
    probabilities = np.eye(3)[np.where(rng.random(400) < 0.8, labels, (labels + 1) % 3)]
    report = classification_metrics(labels, probabilities, resamples=300)
    for row in report["per_class"].values():
        low, high = row["f1_ci"]
        assert low < row["f1"] < high and high - low < 0.2
