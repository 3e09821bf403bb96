"""Is an image unlike the training images of the class it is given? Nearest neighbours in
generic ImageNet features.

A classifier's own features are trained to sort images into three classes, so an image of a
kind it never saw (a dermoscopy photo, a cardiac MRI) is pulled towards one of them and can
look familiar there. Generic features are not: MobileNetV2 with its ImageNet weights,
untouched by medcnn's training, cut where the release's block-13 member is cut, pooled and
normalised. An image's novelty for a class is the cosine distance to its `NEIGHBOURS`-th
nearest training image of that class (Sun et al., 2022, "Out-of-distribution detection with
deep nearest neighbors"), divided by the distance that `QUANTILE` of that class's validation
images stay under; above 1 is rarer than 1 % of `val`. The class asked about is the one the
model answers: a cardiac MRI called brain is measured against brain images, not against the
abdominal MRI among the `other` images. The reference keeps a seeded sample of the training
images' features and classes, stored beside the model as `<model>.novelty.npz`.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from medcnn.config import CANONICAL_SIZE
from medcnn.io import write_atomic
from medcnn.modeling.architectures import BACKBONES, pretrained_base
from medcnn.modeling.artifacts import ModelLoadError

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
        self.model = keras.Model(image, pooled, name="generic_features")
        signature = tf.TensorSpec((None, CANONICAL_SIZE, CANONICAL_SIZE, 1), tf.float32)
        self._traced = tf.function(self.embed, input_signature=[signature])

    def embed(self, batch: tf.Tensor) -> tf.Tensor:
        """Unit-length features of a batch (N, S, S, 1) of any numeric dtype; traceable, so
        a caller can run it inside its own `tf.function`."""
        pooled = self.model(tf.cast(batch, tf.float32), training=False)
        return tf.math.l2_normalize(pooled, axis=1)

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
    """Features (M, D) and classes (M,) of sampled training images; a level per class (C,)."""

    neighbours: np.ndarray
    classes: np.ndarray
    thresholds: np.ndarray

    @cached_property
    def by_class(self) -> dict[int, np.ndarray]:
        """The reference features of each class as float32, converted once."""
        return {
            int(label): self.neighbours[self.classes == label].astype(np.float32)
            for label in np.unique(self.classes)
        }

    def distances(self, features: np.ndarray, classes: np.ndarray) -> np.ndarray:
        """Cosine distance (N,) to the `NEIGHBOURS`-th nearest reference image of each
        image's class."""
        features, classes = np.asarray(features, np.float32), np.asarray(classes)
        found = np.zeros(len(features))
        for label in np.unique(classes):
            reference = self.by_class.get(int(label), np.zeros((0, 0), np.float32))
            if len(reference) < NEIGHBOURS:
                raise ValueError(f"the novelty reference has too few images of class {label}")
            rows = np.flatnonzero(classes == label)
            for start in range(0, len(rows), BATCH_SIZE):
                chosen = rows[start : start + BATCH_SIZE]
                similarity = features[chosen] @ reference.T
                found[chosen] = 1.0 - np.partition(similarity, -NEIGHBOURS, axis=1)[:, -NEIGHBOURS]
        return found

    def ratios(self, features: np.ndarray, classes: np.ndarray) -> np.ndarray:
        """Novelty (N,): distance over the level `QUANTILE` of the class's validation images
        stay under."""
        classes = np.asarray(classes)
        return self.distances(features, classes) / self.thresholds[classes]

    def of_pixels(
        self, pixels: np.ndarray, classes: np.ndarray, features: np.ndarray | None = None
    ) -> np.ndarray:
        """Novelty (N,) of canonical pixels for the given class indices; `features`, when
        given, are their generic features computed already."""
        features = generic_features()(pixels) if features is None else features
        return self.ratios(features, classes)


def fit_novelty(
    train_features: np.ndarray,
    train_labels: np.ndarray,
    val_features: np.ndarray,
    val_labels: np.ndarray,
    seed: int = 0,
) -> NoveltyReference:
    """Sample `REFERENCE_IMAGES` training features; set each class's level on its validation
    images."""
    rng = np.random.default_rng(seed)
    count = min(REFERENCE_IMAGES, len(train_features))
    chosen = np.sort(rng.choice(len(train_features), count, False))
    neighbours = np.asarray(train_features)[chosen].astype(np.float16)
    classes = np.asarray(train_labels)[chosen].astype(np.int8)
    val_labels = np.asarray(val_labels)
    levels = np.ones(int(max(classes.max(), val_labels.max())) + 1)
    reference = NoveltyReference(neighbours, classes, levels)
    distances = reference.distances(val_features, val_labels)
    for label in np.unique(val_labels):
        levels[label] = np.quantile(distances[val_labels == label], QUANTILE)
    return NoveltyReference(neighbours, classes, levels)


def novelty_path(model_path: Path) -> Path:
    return Path(model_path).with_suffix(".novelty.npz")


def save_novelty(reference: NoveltyReference, model_path: Path) -> Path:
    """Write `<model>.novelty.npz` atomically; returns its path."""
    buffer = io.BytesIO()
    np.savez_compressed(
        buffer,
        neighbours=reference.neighbours,
        classes=reference.classes,
        thresholds=reference.thresholds,
    )
    path = novelty_path(model_path)
    write_atomic(path, buffer.getvalue())
    return path


def load_novelty(model_path: Path) -> NoveltyReference | None:
    """The reference saved beside a model, or None when there is none; ModelLoadError for
    one of the earlier, class-blind format, which no rule of this version was fitted with."""
    path = novelty_path(model_path)
    if not path.is_file():
        return None
    with np.load(path) as saved:
        if "classes" not in saved:
            raise ModelLoadError(
                f"{path}: a novelty reference of an earlier format; run `make model` again"
            )
        return NoveltyReference(saved["neighbours"], saved["classes"], saved["thresholds"])
