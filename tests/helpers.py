"""Helpers shared by test modules: small models saved as medcnn saves them."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np

from medcnn.config import CANONICAL_SIZE, CLASSES
from medcnn.modeling import artifacts


def tiny_model(favour: str | None = None, convolution: bool = True) -> keras.Model:
    """A contract-shaped model: (128, 128, 1) pixels 0-255 → softmax over CLASSES.

    `favour` makes the head almost ignore the image and answer that class with ~99 %;
    without it the model is near-uniform, i.e. unsure.
    """
    keras.utils.set_random_seed(0)
    image = keras.Input((CANONICAL_SIZE, CANONICAL_SIZE, 1), name="image")
    x = keras.layers.Rescaling(1 / 255)(image)
    if convolution:
        x = keras.layers.Conv2D(4, 5, strides=4, activation="relu", name="conv")(x)
        x = keras.layers.GlobalAveragePooling2D()(x)
    else:
        x = keras.layers.Flatten()(keras.layers.AveragePooling2D(16)(x))
    features = keras.layers.Dense(8, activation="relu", name="features")(x)
    head = keras.layers.Dense(len(CLASSES), activation="softmax", name="head")
    model = keras.Model(image, head(features))
    bias = np.zeros(len(CLASSES), np.float32)
    if favour is not None:
        bias[CLASSES.index(favour)] = 6.0
    head.set_weights([head.get_weights()[0] * 0.01, bias])
    return model


def saved_tiny_model(folder: Path, favour: str | None = None) -> Path:
    """`tiny_model` saved with its card as `folder/tiny.keras`."""
    card = artifacts.make_card("tiny", 0, processed=folder)
    return artifacts.save_model(tiny_model(favour), Path(folder) / "tiny.keras", card)
