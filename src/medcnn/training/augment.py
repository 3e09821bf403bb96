"""Site augmentation: what differs between hospitals, scanners and uploads, applied in training.

The model's own augmentation layers (flips, small rotations, zoom, shifts, brightness,
contrast) cover positioning and exposure. This stage adds what those layers cannot: another
display window and gamma, blur and noise of other detectors and resamplings, JPEG
compression of exports, a tighter crop, and burned-in text or markers in a corner. It runs
in the `tf.data` pipeline on the canonical uint8 images, training only, with stateless
random ops seeded per image, so a run is repeatable and the saved model carries nothing
of it.
"""

from __future__ import annotations

import math

import tensorflow as tf

from medcnn.config import CANONICAL_SIZE
from medcnn.training.recipes import SITE_AUGMENTATION


def _uniform(seed: tf.Tensor, low: float, high: float) -> tf.Tensor:
    return tf.random.stateless_uniform([], seed, low, high)


def _chance(seed: tf.Tensor, probability: float) -> tf.Tensor:
    return tf.random.stateless_uniform([], seed) < probability


def _gamma_window(image: tf.Tensor, seeds: tf.Tensor, settings: dict) -> tf.Tensor:
    low = _uniform(seeds[0], 0.0, settings["window_clip"])
    high = _uniform(seeds[1], 1.0 - settings["window_clip"], 1.0)
    scaled = tf.clip_by_value((image / 255.0 - low) / (high - low), 0.0, 1.0)
    gamma = tf.exp(_uniform(seeds[2], *(math.log(g) for g in settings["gamma"])))
    return 255.0 * scaled**gamma


def _blur(image: tf.Tensor, seed: tf.Tensor, settings: dict) -> tf.Tensor:
    sigma = _uniform(seed, *settings["blur_sigma"])
    offsets = tf.range(-3.0, 4.0)
    kernel = tf.exp(-(offsets**2) / (2.0 * sigma**2))
    kernel /= tf.reduce_sum(kernel)
    batch = image[tf.newaxis]
    batch = tf.nn.conv2d(batch, tf.reshape(kernel, [7, 1, 1, 1]), 1, "SAME")
    batch = tf.nn.conv2d(batch, tf.reshape(kernel, [1, 7, 1, 1]), 1, "SAME")
    return batch[0]


def _noise(image: tf.Tensor, seeds: tf.Tensor, settings: dict) -> tf.Tensor:
    sigma = _uniform(seeds[0], *settings["noise_sigma"])
    return image + sigma * tf.random.stateless_normal(tf.shape(image), seeds[1])


def _jpeg(image: tf.Tensor, seed: tf.Tensor, settings: dict) -> tf.Tensor:
    quality = settings["jpeg_quality"]
    encoded = tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8)
    degraded = tf.image.stateless_random_jpeg_quality(encoded, quality[0], quality[1], seed)
    return tf.cast(degraded, tf.float32)


def _crop(image: tf.Tensor, seeds: tf.Tensor, settings: dict) -> tf.Tensor:
    side = tf.sqrt(_uniform(seeds[0], *settings["crop_area"]))
    size = tf.cast(side * CANONICAL_SIZE, tf.int32)
    cropped = tf.image.stateless_random_crop(image, [size, size, 1], seeds[1])
    return tf.image.resize(cropped, [CANONICAL_SIZE, CANONICAL_SIZE], antialias=True)


def _marks(image: tf.Tensor, seeds: tf.Tensor, settings: dict) -> tf.Tensor:
    """Bright blocks like burned-in text, a ruler or an arrow, in one random corner."""
    rows = tf.range(CANONICAL_SIZE, dtype=tf.float32)[:, tf.newaxis, tf.newaxis]
    cols = tf.range(CANONICAL_SIZE, dtype=tf.float32)[tf.newaxis, :, tf.newaxis]
    corner = tf.random.stateless_uniform([2], seeds[0], 0, 2, dtype=tf.int32)
    mask = tf.zeros_like(image, dtype=tf.bool)
    for index in range(settings["marks"]):
        seed = seeds[1 + index]
        top = tf.random.stateless_uniform([], seed, 2.0, 28.0)
        left = tf.random.stateless_uniform([], seed + 1, 2.0, 40.0)
        height = tf.random.stateless_uniform([], seed + 2, 2.0, 7.0)
        width = tf.random.stateless_uniform([], seed + 3, 6.0, 44.0)
        top = tf.where(corner[0] == 1, CANONICAL_SIZE - top - height, top)
        left = tf.where(corner[1] == 1, CANONICAL_SIZE - left - width, left)
        block = (rows >= top) & (rows < top + height) & (cols >= left) & (cols < left + width)
        mask |= block
    shade = _uniform(seeds[-1], 180.0, 255.0)
    return tf.where(mask, shade, image)


def site_augment(image: tf.Tensor, seed: tf.Tensor, settings: dict | None = None) -> tf.Tensor:
    """One canonical uint8 image (S, S, 1), changed as another site might show it."""
    settings = settings or SITE_AUGMENTATION
    seeds = tf.random.experimental.stateless_split(seed, 20)
    chance = settings["probability"]
    x = tf.cast(image, tf.float32)
    x = tf.cond(_chance(seeds[0], chance), lambda: _crop(x, seeds[1:3], settings), lambda: x)
    x = tf.cond(
        _chance(seeds[3], chance), lambda: _gamma_window(x, seeds[4:7], settings), lambda: x
    )
    x = tf.cond(_chance(seeds[7], chance / 2), lambda: _blur(x, seeds[8], settings), lambda: x)
    x = tf.cond(_chance(seeds[9], chance / 2), lambda: _noise(x, seeds[10:12], settings), lambda: x)
    x = tf.cond(
        _chance(seeds[12], chance / 2), lambda: _marks(x, seeds[13:18], settings), lambda: x
    )
    x = tf.clip_by_value(x, 0.0, 255.0)
    x = tf.cond(_chance(seeds[18], chance / 2), lambda: _jpeg(x, seeds[19], settings), lambda: x)
    return tf.cast(tf.round(tf.clip_by_value(x, 0.0, 255.0)), tf.uint8)
