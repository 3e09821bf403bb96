"""Scores of a model on the manifest's splits: accuracy and macro-F1."""

from __future__ import annotations

import time

import keras
import numpy as np
from sklearn.metrics import accuracy_score, f1_score

from medcnn.config import CLASSES

CLASS_INDICES = list(range(len(CLASSES)))


def predict_proba(model: keras.Model, images: np.ndarray, batch_size: int = 128) -> np.ndarray:
    """Softmax probabilities (N, classes) for canonical uint8 images."""
    return model.predict(images, batch_size=batch_size, verbose=0)


def split_scores(labels: np.ndarray, probabilities: np.ndarray) -> dict[str, float]:
    predicted = probabilities.argmax(axis=1)
    return {
        "accuracy": float(accuracy_score(labels, predicted)),
        "macro_f1": float(
            f1_score(labels, predicted, average="macro", labels=CLASS_INDICES, zero_division=0)
        ),
        "images": int(len(labels)),
    }


def score_splits(
    model: keras.Model, splits: dict[str, tuple[np.ndarray, np.ndarray]]
) -> tuple[dict[str, dict[str, float]], float]:
    """Scores per split, and inference speed in images per second over all of them."""
    scores, seconds, count = {}, 0.0, 0
    for name, (images, labels) in splits.items():
        start = time.perf_counter()
        probabilities = predict_proba(model, images)
        seconds += time.perf_counter() - start
        count += len(labels)
        scores[name] = split_scores(labels, probabilities)
    return scores, count / seconds if seconds else float("nan")
