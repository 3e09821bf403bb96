"""Grad-CAM as fast as the answer: one `tf.function` per model, any batch size.

`grad_cam` assembles a Keras gradient model on every call, which costs far more than the
forward and backward passes themselves. `GradCam` assembles it once and traces the whole
computation (forward, class score, gradient, weighting, resizing) for a batch of images and
a class per image, so a heatmap costs about one forward and one backward pass.
`forward_and_cams` is that computation untraced, returning also the features and
probabilities of its forward pass, for a caller that traces it together with more (the
predictor's explained answer needs no separate forward pass). The maps are those of
`grad_cam`: the same gradient model, score and `cams_from_gradients`.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from medcnn.config import CANONICAL_SIZE
from medcnn.explain.gradcam import activations_and_scores, cams_from_gradients, gradient_parts


class GradCam:
    """Grad-CAM heatmaps (N, S, S) in [0, 1] of canonical pixels, for given classes."""

    def __init__(self, model: keras.Model, layer_name: str | None = None) -> None:
        parts = gradient_parts(model, layer_name)
        head = model.layers[-1]
        self.dtype = model.inputs[0].dtype
        size = (CANONICAL_SIZE, CANONICAL_SIZE)

        def forward_and_cams(images: tf.Tensor, classes: tf.Tensor | None = None) -> tuple:
            """Features, probabilities and the heatmaps of `classes` (default: the top)."""
            with tf.GradientTape() as tape:
                activations, features, scores = activations_and_scores(parts, head, images)
                if classes is None:
                    classes = tf.argmax(scores, axis=1, output_type=tf.int32)
                score = tf.gather(scores, classes, axis=1, batch_dims=1)
            gradients = tape.gradient(score, activations)
            return features, head(features), cams_from_gradients(activations, gradients, size)

        self.forward_and_cams = forward_and_cams  # untraced, for a caller tracing more with it
        self.signature = tf.TensorSpec((None, *size, 1), self.dtype)
        self._traced = tf.function(
            lambda images, classes: forward_and_cams(images, classes)[2],
            input_signature=[self.signature, tf.TensorSpec((None,), tf.int32)],
        )

    def __call__(self, pixels: np.ndarray, classes) -> np.ndarray:
        """Heatmaps of pixels (N, S, S[, 1]) for one class index per image."""
        batch = np.asarray(pixels)
        batch = batch[..., np.newaxis] if batch.ndim == 3 else batch
        indices = np.asarray(classes, dtype=np.int32).reshape(len(batch))
        return self._traced(tf.constant(batch.astype(self.dtype)), tf.constant(indices)).numpy()
