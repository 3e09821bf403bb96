"""Site augmentation: repeatable for a seed, canonical in shape, different from the input."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from medcnn.training.augment import site_augment
from medcnn.training.fit import weighted_dataset


def test_site_augmentation_is_repeatable_for_a_seed_and_keeps_the_canonical_shape() -> None:
    image = tf.constant(np.random.default_rng(1).integers(0, 255, (128, 128, 1)).astype(np.uint8))
    seeds = [tf.constant([seed, 7], tf.int64) for seed in range(8)]
    first = [site_augment(image, seed).numpy() for seed in seeds]
    again = [site_augment(image, seed).numpy() for seed in seeds]
    assert all(a.dtype == np.uint8 and a.shape == (128, 128, 1) for a in first)
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert sum(not np.array_equal(a, image.numpy()) for a in first) >= 4


def test_the_training_data_are_site_augmented_only_when_asked_and_keep_their_labels() -> None:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (64, 128, 128, 1)).astype(np.uint8)
    labels = np.arange(64, dtype=np.int32) % 3

    def first_batch(augmented: bool) -> tuple[np.ndarray, np.ndarray]:
        batch = weighted_dataset(images, labels, np.ones(64), 64, 0, augmented)
        changed, kept, _ = next(iter(batch))
        return changed.numpy(), kept.numpy()

    plain, plain_labels = first_batch(False)
    augmented, augmented_labels = first_batch(True)
    np.testing.assert_array_equal(augmented_labels, plain_labels)
    assert {image.tobytes() for image in plain} == {image.tobytes() for image in images}
    assert not np.array_equal(augmented, plain)
