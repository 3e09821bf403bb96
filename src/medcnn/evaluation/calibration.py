"""Calibration: expected calibration error, reliability bins, temperature scaling.

Temperature scaling (Guo et al., 2017) divides the logits by one number T fitted to
minimise the negative log-likelihood on the validation split; it never changes which class
is predicted. medcnn models output softmax probabilities, whose logarithms are the logits up
to a per-image constant, which softmax ignores.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax

BINS = 15
SMALLEST_PROBABILITY = 1e-12
TEMPERATURE_RANGE = (0.05, 20.0)


def reliability_bins(probabilities: np.ndarray, labels: np.ndarray, bins: int = BINS) -> dict:
    """Equal-width confidence bins: edges, and per bin the image count, mean confidence and
    accuracy (None for an empty bin) — the data of a reliability diagram."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == np.asarray(labels)
    edges = np.linspace(0.0, 1.0, bins + 1)
    # Bins are (low, high]; a confidence of exactly 0 cannot occur with K ≥ 2 classes.
    which = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, bins - 1)
    counts = np.bincount(which, minlength=bins)
    sums = np.bincount(which, weights=confidence, minlength=bins)
    hits = np.bincount(which, weights=correct, minlength=bins)
    return {
        "edges": edges.tolist(),
        "count": counts.tolist(),
        "confidence": [float(s / n) if n else None for s, n in zip(sums, counts, strict=True)],
        "accuracy": [float(h / n) if n else None for h, n in zip(hits, counts, strict=True)],
    }


def expected_calibration_error(
    probabilities: np.ndarray, labels: np.ndarray, bins: int = BINS
) -> float:
    """ECE: the image-weighted mean gap between confidence and accuracy over the bins."""
    table = reliability_bins(probabilities, labels, bins)
    total = sum(table["count"])
    return float(
        sum(
            n * abs(accuracy - confidence)
            for n, accuracy, confidence in zip(
                table["count"], table["accuracy"], table["confidence"], strict=True
            )
            if n
        )
        / total
    )


def tempered_log_probabilities(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """Log-probabilities after dividing the logits by `temperature`."""
    logits = np.log(np.clip(probabilities, SMALLEST_PROBABILITY, 1.0))
    return log_softmax(logits / temperature, axis=1)


def apply_temperature(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """Probabilities re-scaled by a temperature (T > 1 softens, T < 1 sharpens)."""
    return np.exp(tempered_log_probabilities(probabilities, temperature))


def fit_temperature(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """The temperature that minimises the negative log-likelihood of `labels`."""
    rows = np.arange(len(labels))

    def negative_log_likelihood(log_temperature: float) -> float:
        scaled = tempered_log_probabilities(probabilities, float(np.exp(log_temperature)))
        return -float(scaled[rows, labels].mean())

    low, high = np.log(TEMPERATURE_RANGE)
    best = minimize_scalar(negative_log_likelihood, bounds=(low, high), method="bounded")
    return float(np.exp(best.x))
