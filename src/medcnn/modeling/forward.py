"""The one forward pass: canonical pixels → penultimate features and class probabilities.

Training (scores, the out-of-distribution reference), evaluation and prediction all call
`Forward`, a `tf.function` traced once per model. `model.predict` would do the same work
with far more per-call set-up, which dominates on a CPU for one image.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from medcnn.config import CANONICAL_SIZE

BATCH_SIZE = 256


def feature_model(model: keras.Model) -> keras.Model:
    """A model giving [penultimate features, probabilities]: the input of the last layer."""
    if not model.built:
        model.build((None, CANONICAL_SIZE, CANONICAL_SIZE, 1))
    return keras.Model(model.inputs, [model.layers[-1].input, model.outputs[0]])


class Forward:
    """A model's features and probabilities for batches of canonical uint8 pixels."""

    def __init__(self, model: keras.Model) -> None:
        self.model = model
        self.dtype = model.inputs[0].dtype if model.inputs else "float32"
        two_headed = feature_model(model)
        spec = tf.TensorSpec((None, CANONICAL_SIZE, CANONICAL_SIZE, 1), self.dtype)
        self._traced = tf.function(
            lambda batch: two_headed(batch, training=False), input_signature=[spec]
        )

    def __call__(self, pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Features (N, D) and probabilities (N, C) of one batch (N, S, S[, 1])."""
        batch = np.asarray(pixels)
        batch = batch[..., np.newaxis] if batch.ndim == 3 else batch
        expected = (CANONICAL_SIZE, CANONICAL_SIZE, 1)
        if batch.ndim != 4 or batch.shape[1:] != expected:
            raise ValueError(
                f"expected canonical pixels (N, {CANONICAL_SIZE}, {CANONICAL_SIZE}[, 1])"
            )
        features, probabilities = self._traced(tf.constant(batch.astype(self.dtype)))
        return features.numpy(), probabilities.numpy()

    def batches(
        self, pixels: np.ndarray, batch_size: int = BATCH_SIZE
    ) -> tuple[np.ndarray, np.ndarray]:
        """Features and probabilities of any number of images, `batch_size` at a time."""
        if len(pixels) == 0:
            raise ValueError("no images to run through the model")
        parts = [self(pixels[i : i + batch_size]) for i in range(0, len(pixels), batch_size)]
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def class_probabilities(model: keras.Model, images: np.ndarray) -> np.ndarray:
    """Class probabilities (N, C) as float64, in CLASSES order."""
    return Forward(model).batches(images)[1].astype(np.float64)
