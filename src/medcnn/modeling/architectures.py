"""The three model families: the original CNN, a robust CNN and a transfer-learning model.

Every model takes canonical images, (128, 128, 1) with values 0-255, and returns
softmax probabilities in `CLASSES` order. Resizing to the working size, scaling,
grayscale → RGB and augmentation are Keras layers inside the model, so training,
evaluation and prediction share one preprocessing; the augmentation layers are
only active while training. Only built-in layers are used, so every model loads
in Keras safe mode.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import keras
from keras import layers

from medcnn.config import CANONICAL_SIZE, CLASSES, keras_home

INPUT_SHAPE = (CANONICAL_SIZE, CANONICAL_SIZE, 1)


class WeightsUnavailable(RuntimeError):
    """Pretrained weights that are neither in the Keras cache nor downloadable here."""


def canonical_input() -> keras.KerasTensor:
    return keras.Input(INPUT_SHAPE, name="image")


def resize(size: int) -> layers.Layer:
    """Canonical 128 px → the network's working size, antialiased when shrinking."""
    return layers.Resizing(size, size, interpolation="bilinear", antialias=True, name="resize")


def augmentation(seed: int = 0) -> keras.Sequential:
    """Label-preserving changes a scanner, a clinic or an upload could make.

    Left-right flips: anatomy is near-symmetric and radiological and neurological
    display conventions mirror each other. Small rotations (±10°), zooms (±10 %)
    and shifts (±5 %): patient positioning and field of view. Brightness and
    contrast (±20 %): window settings and exposure differ between sites. No
    vertical flips or large rotations: an upside-down chest is not a real input.
    Outside training every layer passes the image through unchanged.
    """
    fill = {"fill_mode": "constant", "fill_value": 0.0}
    return keras.Sequential(
        [
            layers.RandomFlip("horizontal", seed=seed),
            layers.RandomRotation(10 / 360, seed=seed + 1, **fill),
            layers.RandomZoom(0.1, seed=seed + 2, **fill),
            layers.RandomTranslation(0.05, 0.05, seed=seed + 3, **fill),
            layers.RandomBrightness(0.2, value_range=(0, 255), seed=seed + 4),
            layers.RandomContrast(0.2, value_range=(0, 255), seed=seed + 5),
        ],
        name="augmentation",
    )


def classifier_head(x: keras.KerasTensor) -> keras.KerasTensor:
    return layers.Dense(len(CLASSES), activation="softmax", name="probabilities")(x)


def original_cnn(size: int = 64) -> keras.Model:
    """The original CNN: four 4×4 ReLU convolutions (128, 64, 32, 16), each max-pooled."""
    inputs = canonical_input()
    x = resize(size)(inputs)
    x = layers.Rescaling(1 / 255, name="scale")(x)
    for filters in (128, 64, 32, 16):
        x = layers.Conv2D(filters, 4, activation="relu", name=f"conv_{filters}")(x)
        x = layers.MaxPooling2D(name=f"pool_{filters}")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(64, activation="relu", name="dense_64")(x)
    return keras.Model(inputs, classifier_head(x), name="original_cnn")


def robust_cnn(
    size: int = 64,
    widths: tuple[int, ...] = (32, 64, 128, 128),
    dropout: float = 0.3,
    weight_decay: float = 1e-4,
    seed: int = 0,
) -> keras.Model:
    """The same family made robust: augmentation, BatchNorm, Dropout and L2 weight decay."""
    regularizer = keras.regularizers.L2(weight_decay)
    inputs = canonical_input()
    x = resize(size)(inputs)
    x = augmentation(seed)(x)
    x = layers.Rescaling(1 / 255, name="scale")(x)
    for block, filters in enumerate(widths, start=1):
        x = layers.Conv2D(
            filters,
            3,
            padding="same",
            use_bias=False,
            kernel_regularizer=regularizer,
            name=f"block{block}_conv",
        )(x)
        x = layers.BatchNormalization(name=f"block{block}_bn")(x)
        x = layers.ReLU(name=f"block{block}_relu")(x)
        x = layers.MaxPooling2D(name=f"block{block}_pool")(x)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    x = layers.Dropout(dropout, seed=seed, name="dropout")(x)
    outputs = layers.Dense(
        len(CLASSES), activation="softmax", kernel_regularizer=regularizer, name="probabilities"
    )(x)
    return keras.Model(inputs, outputs, name="robust_cnn")


@dataclass(frozen=True)
class Backbone:
    """A keras.applications network, the file Keras caches its no-top weights in, and its input."""

    name: str
    weights_file: str
    default_cut: str | None
    mean: tuple[float, float, float]
    scale: float

    def application(self):
        return getattr(keras.applications, self.name)


BACKBONES = {
    "mobilenet_v2": Backbone(
        "MobileNetV2",
        "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5",
        "block_13_expand_relu",
        (127.5, 127.5, 127.5),
        1 / 127.5,
    ),
    "efficientnet_b0": Backbone("EfficientNetB0", "efficientnetb0_notop.h5", None, (0, 0, 0), 1.0),
    "resnet50": Backbone(
        "ResNet50",
        "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
        None,
        (103.939, 116.779, 123.68),
        1.0,
    ),
}
"""EfficientNetB0 scales inside itself; ResNet50 wants ImageNet means subtracted (caffe)."""


def keras_cache() -> Path:
    """Where keras.applications caches weights: `models/` under `config.keras_home()`."""
    return keras_home() / "models"


def cached_weights(backbone: Backbone) -> Path:
    """The cached ImageNet weights file; never downloads, so it cannot hang offline."""
    path = keras_cache() / backbone.weights_file
    if not path.is_file():
        raise WeightsUnavailable(
            f"{backbone.name} ImageNet weights not found at {path}; copy "
            f"{backbone.weights_file} there (from a machine with internet, or "
            "`make setup` with ../shared/weights) or set KERAS_HOME to the Keras home holding it"
        )
    return path


def pretrained_base(backbone: Backbone, size: int, cut: str | None) -> keras.Model:
    """The ImageNet network without its top, at `size` px, optionally ending at layer `cut`."""
    weights = cached_weights(backbone)
    base = backbone.application()(
        include_top=False, weights=None, input_shape=(size, size, 3), **alpha(backbone)
    )
    base.load_weights(weights)
    if cut is None:
        return base
    return keras.Model(base.input, base.get_layer(cut).output, name=f"{base.name}_to_{cut}")


def alpha(backbone: Backbone) -> dict[str, float]:
    return {"alpha": 1.0} if backbone.name == "MobileNetV2" else {}


def transfer_model(
    backbone: str = "mobilenet_v2",
    size: int = 96,
    cut: str | None = "default",
    dropout: float = 0.2,
    seed: int = 0,
) -> keras.Model:
    """A frozen ImageNet base (a nested sub-model) under augmentation and a new softmax head.

    `cut` ends the base at an intermediate layer, which keeps the model small and
    fast; "default" uses the backbone's own choice, None keeps the whole network.
    Unfreeze the top of the base with `unfreeze_top` for fine-tuning.
    """
    if backbone not in BACKBONES:
        raise ValueError(f"unknown backbone {backbone!r}; choose from {sorted(BACKBONES)}")
    spec = BACKBONES[backbone]
    base = pretrained_base(spec, size, spec.default_cut if cut == "default" else cut)
    base.trainable = False
    inputs = canonical_input()
    x = resize(size)(inputs)
    x = augmentation(seed)(x)
    x = layers.Concatenate(name="gray_to_rgb")([x, x, x])
    variance = [(1 / spec.scale) ** 2] * 3
    x = layers.Normalization(mean=list(spec.mean), variance=variance, name="imagenet_scale")(x)
    # BatchNorm inside the base keeps its ImageNet statistics, also while fine-tuning.
    x = base(x, training=False)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    x = layers.Dropout(dropout, seed=seed, name="dropout")(x)
    return keras.Model(inputs, classifier_head(x), name=f"{backbone}_transfer")


def base_model(model: keras.Model) -> keras.Model:
    """The nested pretrained base of a transfer model."""
    for layer in model.layers:
        if isinstance(layer, keras.Model) and layer.name != "augmentation":
            return layer
    raise ValueError(f"model {model.name!r} has no nested pretrained base")


def unfreeze_top(model: keras.Model, fraction: float = 0.3) -> int:
    """Make the last `fraction` of the base's layers trainable (BatchNorm stays frozen).

    Returns how many layers were unfrozen; recompile the model afterwards.
    """
    base = base_model(model)
    base.trainable = True
    start = int(len(base.layers) * (1 - fraction))
    unfrozen = 0
    for index, layer in enumerate(base.layers):
        layer.trainable = index >= start and not isinstance(layer, layers.BatchNormalization)
        unfrozen += layer.trainable
    return unfrozen
