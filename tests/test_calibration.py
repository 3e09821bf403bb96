"""Calibration error, reliability bins and temperature scaling on cases with known answers."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import softmax

from medcnn.evaluation.calibration import (
    apply_temperature,
    expected_calibration_error,
    fit_temperature,
    reliability_bins,
)


def confident(confidence: float, n: int) -> np.ndarray:
    """Probabilities with `confidence` on class 0 and the rest shared by classes 1 and 2."""
    rest = (1 - confidence) / 2
    return np.tile([confidence, rest, rest], (n, 1))


def test_ece_is_the_gap_between_confidence_and_accuracy() -> None:
    labels = np.where(np.arange(100) < 60, 0, 1)  # 60 % right, 90 % sure
    assert expected_calibration_error(confident(0.9, 100), labels) == pytest.approx(0.3)
    labels = np.where(np.arange(100) < 80, 0, 1)  # 80 % right, 80 % sure
    assert expected_calibration_error(confident(0.8, 100), labels) == pytest.approx(0.0)


def test_ece_weights_bins_by_their_images() -> None:
    probabilities = np.vstack([confident(0.95, 30), confident(0.55, 70)])
    labels = np.r_[np.zeros(30, int), np.zeros(35, int), np.ones(35, int)]
    expected = (30 * abs(1.0 - 0.95) + 70 * abs(0.5 - 0.55)) / 100
    assert expected_calibration_error(probabilities, labels) == pytest.approx(expected)


def test_reliability_bins() -> None:
    probabilities = np.vstack([confident(1.0, 4), confident(0.5, 6)])
    table = reliability_bins(probabilities, np.zeros(10, int), bins=10)
    assert len(table["edges"]) == 11 and sum(table["count"]) == 10
    assert table["count"][-1] == 4 and table["confidence"][-1] == pytest.approx(1.0)
    assert table["count"][4] == 6  # 0.5 falls in (0.4, 0.5]
    assert table["accuracy"][0] is None and table["confidence"][0] is None


def test_temperature_keeps_the_predicted_class() -> None:
    probabilities = softmax(np.random.default_rng(0).normal(0, 2, (50, 3)), axis=1)
    np.testing.assert_allclose(apply_temperature(probabilities, 1.0), probabilities, atol=1e-9)
    softened = apply_temperature(probabilities, 2.0)
    np.testing.assert_array_equal(softened.argmax(axis=1), probabilities.argmax(axis=1))
    assert (softened.max(axis=1) <= probabilities.max(axis=1) + 1e-12).all()
    np.testing.assert_allclose(softened.sum(axis=1), 1.0)


def test_fitted_temperature_undoes_overconfidence() -> None:
    # Labels drawn from softmax(z); the "model" reports softmax(3 z): three times too sure.
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 1.5, (4000, 3))
    labels = np.array([rng.choice(3, p=p) for p in softmax(logits, axis=1)])
    overconfident = softmax(3 * logits, axis=1)
    temperature = fit_temperature(overconfident, labels)
    assert temperature == pytest.approx(3.0, rel=0.1)
    before = expected_calibration_error(overconfident, labels)
    after = expected_calibration_error(apply_temperature(overconfident, temperature), labels)
    assert after < before / 3
