"""Classification metrics from labels and predicted probabilities, with bootstrap intervals.

Accuracy and macro-F1 are computed from confusion matrices, so that thousands of bootstrap
resamples cost one `bincount` each. Macro-F1 averages over the classes that occur in the
labels or the predictions, as scikit-learn's `f1_score(average="macro")` does.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import (
    average_precision_score,
    precision_recall_curve,
    roc_auc_score,
    roc_curve,
)

from medcnn.config import CLASSES

RESAMPLES_PER_CHUNK = 200


def confusion(labels: np.ndarray, predictions: np.ndarray, classes: int = len(CLASSES)):
    """Confusion matrix (classes, classes) of counts: rows true class, columns predicted."""
    codes = np.asarray(labels) * classes + np.asarray(predictions)
    return np.bincount(codes, minlength=classes * classes).reshape(classes, classes)


def accuracy_of(matrices: np.ndarray) -> np.ndarray:
    """Accuracy of one confusion matrix or of a stack (..., K, K)."""
    return np.trace(matrices, axis1=-2, axis2=-1) / matrices.sum(axis=(-2, -1))


def f1_of(matrices: np.ndarray) -> np.ndarray:
    """Per-class F1 (..., K); NaN for a class neither present nor predicted."""
    hits = np.diagonal(matrices, axis1=-2, axis2=-1)
    total = matrices.sum(axis=-1) + matrices.sum(axis=-2)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, 2 * hits / total, np.nan)


def macro_f1_of(matrices: np.ndarray) -> np.ndarray:
    """Mean F1 over the classes present in labels or predictions."""
    return np.nanmean(f1_of(matrices), axis=-1)


def bootstrap_confusions(
    labels: np.ndarray,
    predictions: np.ndarray,
    resamples: int = 1000,
    seed: int = 0,
    classes: int = len(CLASSES),
) -> np.ndarray:
    """Confusion matrices (resamples, K, K) of images drawn with replacement."""
    labels, predictions = np.asarray(labels), np.asarray(predictions)
    rng = np.random.default_rng(seed)
    cells = classes * classes
    chunks = []
    for start in range(0, resamples, RESAMPLES_PER_CHUNK):
        count = min(RESAMPLES_PER_CHUNK, resamples - start)
        drawn = rng.integers(0, len(labels), (count, len(labels)))
        codes = labels[drawn] * classes + predictions[drawn] + cells * np.arange(count)[:, None]
        chunks.append(np.bincount(codes.ravel(), minlength=count * cells))
    return np.concatenate(chunks).reshape(resamples, classes, classes)


def percentile_interval(values: np.ndarray, confidence: float = 0.95) -> list[float]:
    """The central `confidence` interval of bootstrap values: [low, high]."""
    tail = (1 - confidence) / 2 * 100
    low, high = np.nanpercentile(values, [tail, 100 - tail])
    return [float(low), float(high)]


def one_vs_rest_curves(labels: np.ndarray, probabilities: np.ndarray) -> dict:
    """Per class: ROC-AUC, PR-AUC (average precision) and the curve points; None if undefined.

    A class with no positive or no negative image has no curve.
    """
    labels = np.asarray(labels)
    result = {}
    for index, name in enumerate(CLASSES):
        truth, score = labels == index, probabilities[:, index]
        if truth.all() or not truth.any():
            result[name] = {"roc_auc": None, "pr_auc": None, "roc": None, "pr": None}
            continue
        fpr, tpr, _ = roc_curve(truth, score)
        precision, recall, _ = precision_recall_curve(truth, score)
        result[name] = {
            "roc_auc": float(roc_auc_score(truth, score)),
            "pr_auc": float(average_precision_score(truth, score)),
            "roc": {"fpr": fpr.tolist(), "tpr": tpr.tolist()},
            "pr": {"recall": recall.tolist(), "precision": precision.tolist()},
        }
    return result


def per_class_report(matrix: np.ndarray) -> dict:
    """Precision, recall, F1 and support of each class from one confusion matrix.

    An undefined ratio (nothing predicted, or no support) is 0.0, as scikit-learn's
    `zero_division=0` gives.
    """
    hits = np.diagonal(matrix).astype(float)
    predicted, support = matrix.sum(axis=0), matrix.sum(axis=1)
    precision = np.divide(hits, predicted, out=np.zeros_like(hits), where=predicted > 0)
    recall = np.divide(hits, support, out=np.zeros_like(hits), where=support > 0)
    total = precision + recall
    f1 = np.divide(2 * precision * recall, total, out=np.zeros_like(hits), where=total > 0)
    return {
        name: {
            "precision": float(precision[i]),
            "recall": float(recall[i]),
            "f1": float(f1[i]),
            "support": int(support[i]),
        }
        for i, name in enumerate(CLASSES)
    }


def group_accuracy(
    labels: np.ndarray,
    predictions: np.ndarray,
    groups: np.ndarray,
    resamples: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> dict:
    """Per group (source, modality…): image count, accuracy with bootstrap interval, and
    how many images were predicted as each class."""
    labels, predictions, groups = map(np.asarray, (labels, predictions, groups))
    result = {}
    for group in sorted(set(groups.tolist())):
        chosen = groups == group
        matrices = bootstrap_confusions(labels[chosen], predictions[chosen], resamples, seed)
        counts = np.bincount(predictions[chosen], minlength=len(CLASSES))
        result[str(group)] = {
            "n": int(chosen.sum()),
            "accuracy": float(np.mean(labels[chosen] == predictions[chosen])),
            "accuracy_ci": percentile_interval(accuracy_of(matrices), confidence),
            "predicted": {name: int(n) for name, n in zip(CLASSES, counts, strict=True)},
        }
    return result


def mean_defined(values) -> float | None:
    """Mean of the values that are not None; None when there are none."""
    defined = [value for value in values if value is not None]
    return float(np.mean(defined)) if defined else None


def classification_metrics(
    labels: np.ndarray,
    probabilities: np.ndarray,
    resamples: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> dict:
    """Accuracy, macro-F1 and per-class F1 with bootstrap intervals, per-class figures, the
    confusion matrix, and one-vs-rest ROC/PR (AUCs and curve points)."""
    labels = np.asarray(labels)
    predictions = np.argmax(probabilities, axis=1)
    matrix = confusion(labels, predictions)
    resampled = bootstrap_confusions(labels, predictions, resamples, seed)
    per_class = per_class_report(matrix)
    curves = one_vs_rest_curves(labels, probabilities)
    resampled_f1 = f1_of(resampled)
    for index, name in enumerate(CLASSES):
        draws = resampled_f1[:, index]
        defined = not np.isnan(draws).all()
        per_class[name]["f1_ci"] = percentile_interval(draws, confidence) if defined else None
        per_class[name]["roc_auc"] = curves[name]["roc_auc"]
        per_class[name]["pr_auc"] = curves[name]["pr_auc"]
    return {
        "n": int(len(labels)),
        "accuracy": float(accuracy_of(matrix)),
        "accuracy_ci": percentile_interval(accuracy_of(resampled), confidence),
        "macro_f1": float(macro_f1_of(matrix)),
        "macro_f1_ci": percentile_interval(macro_f1_of(resampled), confidence),
        "confidence_level": confidence,
        "per_class": per_class,
        "roc_auc_macro": mean_defined(c["roc_auc"] for c in curves.values()),
        "pr_auc_macro": mean_defined(c["pr_auc"] for c in curves.values()),
        "confusion_matrix": matrix.tolist(),
        "curves": {name: {"roc": c["roc"], "pr": c["pr"]} for name, c in curves.items()},
    }


def split_scores(labels: np.ndarray, probabilities: np.ndarray) -> dict[str, float]:
    """Accuracy, macro-F1 and image count of one split: the figures a model card records."""
    matrix = confusion(np.asarray(labels), np.argmax(probabilities, axis=1))
    return {
        "accuracy": float(accuracy_of(matrix)),
        "macro_f1": float(macro_f1_of(matrix)),
        "images": int(len(labels)),
    }
