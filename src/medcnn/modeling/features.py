"""Is an image far from the training data? Mahalanobis distance in the model's own features.

Signal (Lee et al., 2018, "A simple unified framework for detecting out-of-distribution
samples"): the penultimate-layer features of the training images are summarised by one mean
per class and a shared, slightly shrunk covariance; an image's distance is its Mahalanobis
distance to the nearest class mean. The model's softmax can be confidently wrong on an image
unlike anything it saw (a document, a cartoon), but its features then land far from every
class. The alarm threshold is a quantile of the distances of held-out validation images, so
its false-alarm rate on in-distribution images is measurable by construction (1 − quantile)
and its hit rate on unseen sources can be reported beside it.

The reference lives beside the model as `<model>.ood.npz`.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from medcnn.io import write_atomic

QUANTILE = 0.99
SHRINKAGE = 0.1


@dataclass(frozen=True)
class FeatureReference:
    """Class means (C, D), shared precision matrix (D, D) and the distance alarm threshold."""

    means: np.ndarray
    precision: np.ndarray
    threshold: float
    quantile: float = QUANTILE

    def distances(self, features: np.ndarray) -> np.ndarray:
        """Mahalanobis distance (N,) of each feature row to its nearest class mean."""
        offsets = np.asarray(features, dtype=np.float64)[:, None, :] - self.means[None]
        rows = offsets.reshape(-1, offsets.shape[-1])  # one matrix product, in BLAS
        squared = np.einsum("nd,nd->n", rows @ self.precision, rows).reshape(offsets.shape[:2])
        return np.sqrt(np.maximum(squared.min(axis=1), 0.0))


def fit_reference(
    train_features: np.ndarray,
    train_labels: np.ndarray,
    val_features: np.ndarray,
    quantile: float = QUANTILE,
) -> FeatureReference:
    """Fit class means and covariance on training features; set the threshold on validation."""
    features = np.asarray(train_features, dtype=np.float64)
    labels = np.asarray(train_labels)
    classes = np.unique(labels)
    means = np.stack([features[labels == c].mean(axis=0) for c in classes])
    centred = features - means[np.searchsorted(classes, labels)]
    covariance = centred.T @ centred / max(len(features) - len(classes), 1)
    scale = np.trace(covariance) / len(covariance) or 1.0
    shrunk = (1 - SHRINKAGE) * covariance + SHRINKAGE * scale * np.eye(len(covariance))
    inverse = np.linalg.inv(shrunk)
    reference = FeatureReference(means, (inverse + inverse.T) / 2, threshold=np.inf)
    threshold = float(np.quantile(reference.distances(val_features), quantile))
    return FeatureReference(means, reference.precision, threshold, quantile)


def reference_path(model_path: Path) -> Path:
    return Path(model_path).with_suffix(".ood.npz")


def save_reference(reference: FeatureReference, model_path: Path) -> Path:
    """Write `<model>.ood.npz` atomically; returns its path. The precision matrix is symmetric,
    so only its upper triangle is stored, in float32: a quarter of the full float64 matrix."""
    upper = np.triu_indices(len(reference.precision))
    buffer = io.BytesIO()
    np.savez(
        buffer,
        means=reference.means,
        precision_upper=reference.precision[upper].astype(np.float32),
        threshold=reference.threshold,
        quantile=reference.quantile,
    )
    path = reference_path(model_path)
    write_atomic(path, buffer.getvalue())
    return path


def load_reference(model_path: Path) -> FeatureReference | None:
    """The reference saved beside a model, or None when there is none."""
    path = reference_path(model_path)
    if not path.is_file():
        return None
    with np.load(path) as saved:
        means, upper = saved["means"], saved["precision_upper"]
        threshold, quantile = float(saved["threshold"]), float(saved["quantile"])
    precision = np.zeros((means.shape[1],) * 2)
    precision[np.triu_indices(len(precision))] = upper
    precision = precision + np.triu(precision, 1).T
    return FeatureReference(means, precision, threshold, quantile)
