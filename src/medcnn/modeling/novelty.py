"""Is an image unlike every training image? Nearest neighbours in generic ImageNet features.

A classifier's own features are trained to sort images into three classes, so an image of a
kind it never saw (a dermoscopy photo, a cardiac MRI) is pulled towards one of them and can
look familiar there. Generic features are not: MobileNetV2 with its ImageNet weights,
untouched by medcnn's training, cut where the release model is cut, pooled and normalised.
An image's novelty is the cosine distance to its `NEIGHBOURS`-th nearest training image
(Sun et al., 2022, "Out-of-distribution detection with deep nearest neighbors"), divided by
the distance that `QUANTILE` of validation images stay under; above 1 is rarer than 1 % of
`val`. The reference keeps a seeded sample of the training images' features, stored beside
the model as `<model>.novelty.npz`.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from medcnn.config import CANONICAL_SIZE
from medcnn.io import write_atomic
from medcnn.modeling.architectures import BACKBONES, pretrained_base

BACKBONE = "mobilenet_v2"
WORKING_SIZE = 64
NEIGHBOURS = 5
QUANTILE = 0.99
REFERENCE_IMAGES = 5000
BATCH_SIZE = 256


class GenericFeatures:
    """Canonical pixels → unit-length ImageNet features (N, D), through one traced function."""

    def __init__(self) -> None:
        spec = BACKBONES[BACKBONE]
        base = pretrained_base(spec, WORKING_SIZE, spec.default_cut)
        image = keras.Input((CANONICAL_SIZE, CANONICAL_SIZE, 1))
        x = keras.layers.Resizing(WORKING_SIZE, WORKING_SIZE, antialias=True)(image)
        x = keras.layers.Concatenate()([x, x, x])
        x = keras.layers.Rescaling(spec.scale, offset=-spec.mean[0] * spec.scale)(x)
        pooled = keras.layers.GlobalAveragePooling2D()(base(x, training=False))
        model = keras.Model(image, pooled, name="generic_features")
        signature = tf.TensorSpec((None, CANONICAL_SIZE, CANONICAL_SIZE, 1), tf.float32)
        self._traced = tf.function(
            lambda batch: tf.math.l2_normalize(model(batch, training=False), axis=1),
            input_signature=[signature],
        )

    def __call__(self, pixels: np.ndarray, batch_size: int = BATCH_SIZE) -> np.ndarray:
        batch = np.asarray(pixels)
        batch = batch[..., np.newaxis] if batch.ndim == 3 else batch
        parts = [
            self._traced(tf.constant(batch[i : i + batch_size], tf.float32)).numpy()
            for i in range(0, len(batch), batch_size)
        ]
        return np.concatenate(parts) if parts else np.zeros((0, 0), np.float32)


@lru_cache(maxsize=1)
def generic_features() -> GenericFeatures:
    """The process's one generic feature extractor, built on first use."""
    return GenericFeatures()


@dataclass(frozen=True)
class NoveltyReference:
    """Features of sampled training images (M, D) and the validation distance level."""

    neighbours: np.ndarray
    threshold: float

    def distances(self, features: np.ndarray) -> np.ndarray:
        """Cosine distance (N,) to the `NEIGHBOURS`-th nearest reference image."""
        reference = self.neighbours.astype(np.float32)
        found = []
        for start in range(0, len(features), BATCH_SIZE):
            similarity = np.asarray(features[start : start + BATCH_SIZE]) @ reference.T
            kth = np.partition(similarity, -NEIGHBOURS, axis=1)[:, -NEIGHBOURS]
            found.append(1.0 - kth)
        return np.concatenate(found) if found else np.zeros(0)

    def ratios(self, features: np.ndarray) -> np.ndarray:
        """Novelty (N,): distance over the level `QUANTILE` of validation images stay under."""
        return self.distances(features) / self.threshold

    def of_pixels(self, pixels: np.ndarray) -> np.ndarray:
        """Novelty (N,) of canonical pixels."""
        return self.ratios(generic_features()(pixels))


def fit_novelty(
    train_features: np.ndarray, val_features: np.ndarray, seed: int = 0
) -> NoveltyReference:
    """Sample `REFERENCE_IMAGES` training features; set the level on validation features."""
    rng = np.random.default_rng(seed)
    count = min(REFERENCE_IMAGES, len(train_features))
    sample = np.asarray(train_features)[np.sort(rng.choice(len(train_features), count, False))]
    reference = NoveltyReference(sample.astype(np.float16), threshold=1.0)
    threshold = float(np.quantile(reference.distances(val_features), QUANTILE))
    return NoveltyReference(reference.neighbours, threshold)


def novelty_path(model_path: Path) -> Path:
    return Path(model_path).with_suffix(".novelty.npz")


def save_novelty(reference: NoveltyReference, model_path: Path) -> Path:
    """Write `<model>.novelty.npz` atomically; returns its path."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, neighbours=reference.neighbours, threshold=reference.threshold)
    path = novelty_path(model_path)
    write_atomic(path, buffer.getvalue())
    return path


def load_novelty(model_path: Path) -> NoveltyReference | None:
    """The reference saved beside a model, or None when there is none."""
    path = novelty_path(model_path)
    if not path.is_file():
        return None
    with np.load(path) as saved:
        return NoveltyReference(saved["neighbours"], float(saved["threshold"]))
