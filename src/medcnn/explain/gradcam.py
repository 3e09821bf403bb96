"""Grad-CAM (Selvaraju et al., 2017) for every medcnn model, and its randomization check.

Works on a Sequential CNN (called or not), a functional CNN, and a transfer model whose
pretrained base is a nested model, also after loading from a `.keras` file. A layer inside
a nested base cannot be wired to the outer input directly ("Graph disconnected"), so the
gradient model is assembled in three parts: the outer layers up to the base, a sub-model of
the base returning [activations, base output], and the outer layers after it.

The score differentiated is the class logit, read from the final Dense layer's kernel and
bias, because a saturated softmax has no gradient; a model ending otherwise falls back to
the log-probability.
"""

from __future__ import annotations

import re

import keras
import numpy as np
import tensorflow as tf
from matplotlib import colormaps
from PIL import Image
from scipy.stats import spearmanr

from medcnn.config import CANONICAL_SIZE
from medcnn.modeling.ensemble import members_of

CONVOLUTIONS = (keras.layers.Conv2D, keras.layers.DepthwiseConv2D, keras.layers.SeparableConv2D)


def ensure_built(model: keras.Model) -> keras.Model:
    """Give a never-called Sequential model its graph, on the contract's input shape."""
    if isinstance(model, keras.Sequential) and not model.built:
        model.build((None, CANONICAL_SIZE, CANONICAL_SIZE, 1))
    return model


def flat_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """Every layer in graph order, nested models opened in place."""
    layers = []
    for layer in ensure_built(model).layers:
        layers.append(layer)
        if isinstance(layer, keras.Model):
            layers.extend(flat_layers(layer))
    return layers


def last_conv_layer(model: keras.Model) -> str:
    """Name of the last convolution, searching inside nested models too."""
    for layer in reversed(flat_layers(model)):
        if isinstance(layer, CONVOLUTIONS):
            return layer.name
    raise ValueError(f"model {model.name!r} has no convolution layer")


def layer_path(model: keras.Model, name: str) -> list[keras.layers.Layer]:
    """The chain of nested models leading to the layer `name`, ending with that layer."""
    for layer in ensure_built(model).layers:
        if layer.name == name:
            return [layer]
        if isinstance(layer, keras.Model):
            try:
                return [layer, *layer_path(layer, name)]
            except ValueError:
                continue
    raise ValueError(f"no layer named {name!r} in model {model.name!r}")


def grid_size(model: keras.Model, name: str | None = None) -> tuple[int, int]:
    """Rows and columns of the grid a layer's map has (the last convolution's by default;
    in an ensemble, its first member's)."""
    explained = (members_of(model) or [model])[0]
    height, width = layer_path(explained, name or last_conv_layer(explained))[-1].output.shape[1:3]
    return int(height), int(width)


def gradient_parts(model: keras.Model, name: str | None = None) -> list[keras.Model]:
    """Models from the input to [activations of the layer Grad-CAM reads, features]: one
    for a model (`name`, by default its last convolution; the features are its final
    layer's input), one per member for an ensemble (`modeling.ensemble`: that layer in
    each member, and the member's part of the features, in order)."""
    members = members_of(model)
    if not members:
        path = layer_path(model, name or last_conv_layer(model))
        return [activation_model(model, path, [model.layers[-1].input])]
    return [
        activation_model(
            member, layer_path(member, name or last_conv_layer(member)), member.outputs
        )
        for member in members
    ]


def activations_and_scores(
    parts: list[keras.Model], head: keras.layers.Layer, images: tf.Tensor
) -> tuple[list[tf.Tensor], tf.Tensor, tf.Tensor]:
    """Each part's activations, the features the final layer `head` takes (the parts' side
    by side), and its class scores."""
    outputs = [part(images, training=False) for part in parts]
    activations = [activation for activation, _ in outputs]
    features = tf.concat([feature for _, feature in outputs], axis=-1)
    return activations, features, class_scores(head, features)


def activation_model(model: keras.Model, path: list[keras.layers.Layer], outputs) -> keras.Model:
    """A model from `model`'s input to [the last layer of `path`'s output, *outputs]."""
    target = path[0]
    if len(path) == 1:
        return keras.Model(model.inputs[0], [target.output, *outputs])
    base_input, base_output = call_tensors(model, target)
    before = keras.Model(model.inputs[0], base_input)
    inner = activation_model(target, path[1:], target.outputs)
    after = keras.Model(base_output, outputs)
    inputs = keras.Input(batch_shape=model.inputs[0].shape, dtype=model.inputs[0].dtype)
    activations, base_output = inner(before(inputs))
    rest = after(base_output)
    return keras.Model(inputs, [activations, *(rest if isinstance(rest, list) else [rest])])


def call_tensors(model: keras.Model, nested: keras.Model) -> tuple:
    """The outer-graph tensors into and out of `nested`, a model called once inside `model`.

    A nested model's own `.input`/`.output` are its inner graph's. Who feeds it and whom it
    feeds is read from the outer model's config (its public serialised graph); the tensors are
    then the feeding layer's `.output` and the fed layer's `.input`.
    """
    if isinstance(model, keras.Sequential):
        position = model.layers.index(nested)
        if not 0 < position < len(model.layers) - 1:
            raise ValueError(f"nested model {nested.name!r} must sit between two layers")
        return model.layers[position - 1].output, model.layers[position + 1].input
    sources = {
        entry["name"]: history(entry["inbound_nodes"]) for entry in model.get_config()["layers"]
    }
    feeders = sources.get(nested.name, [])
    fed = [name for name, names in sources.items() if nested.name in names]
    if len(feeders) != 1 or len(fed) != 1:
        raise ValueError(f"nested model {nested.name!r} must be called exactly once, on one input")
    feeder, consumer = model.get_layer(feeders[0]), model.get_layer(fed[0])
    if isinstance(feeder, keras.Model) or isinstance(consumer, keras.Model):
        raise ValueError(f"nested model {nested.name!r} must sit between plain layers")
    return feeder.output, consumer.input


def history(value) -> list[str]:
    """Names of the layers whose outputs a serialised call (`inbound_nodes`) takes."""
    if isinstance(value, dict):
        if value.get("class_name") == "__keras_tensor__":
            return [value["config"]["keras_history"][0]]
        return [name for item in value.values() for name in history(item)]
    if isinstance(value, list | tuple):
        return [name for item in value for name in history(item)]
    return []


def class_scores(head: keras.layers.Layer, features: tf.Tensor) -> tf.Tensor:
    """Pre-softmax scores of the final layer `head` given its input."""
    if isinstance(head, keras.layers.Dense):
        logits = tf.matmul(features, head.kernel)
        return logits + head.bias if head.use_bias else logits
    return tf.math.log(head(features) + keras.config.epsilon())


def heatmaps(
    model: keras.Model,
    images: np.ndarray,
    class_indices: list[int] | None = None,
    layer_name: str | None = None,
) -> np.ndarray:
    """Grad-CAM of a batch (N, S, S, 1): float32 (N, S, S) in [0, 1], one gradient model."""
    images = np.asarray(images)
    parts = gradient_parts(model, layer_name)
    with tf.GradientTape() as tape:
        activations, _, scores = activations_and_scores(parts, model.layers[-1], images)
        chosen = tf.argmax(scores, axis=-1) if class_indices is None else class_indices
        score = tf.gather(scores, chosen, axis=1, batch_dims=1)
    gradients = tape.gradient(score, activations)
    return cams_from_gradients(activations, gradients, images.shape[1:3]).numpy()


def cams_from_gradients(activations: list, gradients: list, size) -> tf.Tensor:
    """Channel weights (mean gradient) × activations, resized to `size`, per layer; their
    sum (an ensemble's members add up), ReLU, peak scaled to 1."""
    total = 0.0
    for layer_activations, layer_gradients in zip(activations, gradients, strict=True):
        weights = tf.reduce_mean(layer_gradients, axis=(1, 2), keepdims=True)
        weighted = tf.reduce_sum(weights * layer_activations, axis=-1, keepdims=True)
        total += tf.image.resize(weighted, size, method="bilinear")
    cams = tf.nn.relu(total)[..., 0]
    peaks = tf.reduce_max(cams, axis=(1, 2), keepdims=True)
    normalized = tf.math.divide_no_nan(cams, peaks)
    return tf.cast(tf.clip_by_value(normalized, 0.0, 1.0), tf.float32)


def grad_cam(
    model: keras.Model,
    image: np.ndarray,
    class_index: int | None = None,
    layer_name: str | None = None,
) -> np.ndarray:
    """Class-specific Grad-CAM heatmap of one image, float32 (S, S) in [0, 1].

    `image` is (S, S, 1) or (1, S, S, 1); `class_index` None explains the predicted class;
    `layer_name` None uses the last convolution. An all-zero map means no region raised
    the class score.
    """
    batch = np.asarray(image)
    batch = batch[np.newaxis] if batch.ndim == 3 else batch
    classes = None if class_index is None else [class_index]
    return heatmaps(model, batch, classes, layer_name)[0]


def overlay(
    image: np.ndarray, heatmap: np.ndarray, alpha: float = 0.4, colormap: str = "jet"
) -> np.ndarray:
    """The grayscale image with the coloured heatmap blended over it: RGB uint8 (S, S, 3)."""
    gray = np.asarray(image).squeeze().astype(np.float32)
    if heatmap.shape != gray.shape:
        resized = Image.fromarray(np.asarray(heatmap, dtype=np.float32)).resize(
            gray.shape[::-1], Image.Resampling.BILINEAR
        )
        heatmap = np.asarray(resized)
    colours = colormaps[colormap](np.clip(heatmap, 0.0, 1.0))[..., :3] * 255.0
    blended = (1.0 - alpha) * gray[..., np.newaxis] + alpha * colours
    return np.round(np.clip(blended, 0, 255)).astype(np.uint8)


def overlays(
    model: keras.Model,
    images: np.ndarray,
    class_indices=None,
    layer_name: str | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Grad-CAM overlays (N, S, S, 3) of a batch, and the classes explained (N,).

    `class_indices` None explains each image's predicted class.
    """
    images = np.asarray(images)
    if class_indices is None:
        class_indices = np.argmax(model.predict(images, verbose=0), axis=-1)
    classes = np.asarray([int(c) for c in class_indices])
    maps = heatmaps(model, images, list(classes), layer_name)
    blended = np.stack(
        [overlay(image, heatmap) for image, heatmap in zip(images, maps, strict=True)]
    )
    return blended, classes


def rank_correlation(first: np.ndarray, second: np.ndarray) -> float:
    """Spearman correlation of two heatmaps; a constant map correlates 0 with a different one."""
    first, second = np.ravel(first), np.ravel(second)
    if np.array_equal(first, second):
        return 1.0
    if np.ptp(first) == 0 or np.ptp(second) == 0:
        return 0.0
    return float(spearmanr(first, second).statistic)


def randomize_weights(layer: keras.layers.Layer, rng: np.random.Generator) -> None:
    """Redraw each trainable weight from a normal with the trained weight's mean and spread."""
    for weight in layer.trainable_weights:
        values = weight.numpy()
        weight.assign(rng.normal(values.mean(), values.std(), values.shape).astype(values.dtype))


BLOCK_NAME = re.compile(r"^(.*?block_?\d+[a-z]?|expanded_conv)_")
"""The block a layer belongs to, as Keras applications name their layers: `block_13_expand`
(MobileNetV2), `conv2_block1_1_conv` (ResNet), `block1a_expand_conv` (EfficientNet)."""


def cascade_steps(layers: list[keras.layers.Layer]) -> list[tuple[str, list]]:
    """The layers of one named block as one step, every other layer as its own: (name,
    layers) in the order of first appearance. In an ensemble the same block, or the same
    named layer, of every member is one step, so the cascade goes down in depth through
    all members at once."""
    steps: dict[str, list] = {}
    for layer in layers:
        match = BLOCK_NAME.match(layer.name)
        steps.setdefault(match.group(1) if match else layer.name, []).append(layer)
    return list(steps.items())


def randomization_check(
    model: keras.Model,
    images: np.ndarray,
    cascading: bool = True,
    layer_name: str | None = None,
    seed: int = 0,
) -> list[dict]:
    """Model-parameter randomization test (Adebayo et al., 2018) on a clone of `model`.

    Cascading: the layers with learnable weights (a frozen base's included, nested models
    opened) are randomized from the output down, one block at a time (`cascade_steps`);
    otherwise all at once. After each step the Grad-CAM of every image, for the class the
    original model predicts, is compared with the original map by Spearman rank
    correlation. One dict per step: `randomized` (the block or layer, or "all"), mean
    `spearman` and `per_image`. Maps that mean something change: correlations well below 1.
    """
    model = ensure_built(model)
    images = np.asarray(images)
    classes = [int(c) for c in np.argmax(model.predict(images, verbose=0), axis=-1)]
    originals = heatmaps(model, images, classes, layer_name)
    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    layers = flat_layers(clone)
    for layer in layers:
        layer.trainable = True  # so that a frozen base's weights count as learnable
    learnable = [
        layer for layer in layers if layer.trainable_weights and not isinstance(layer, keras.Model)
    ]
    steps = cascade_steps(learnable[::-1]) if cascading else [("all", learnable)]
    rng = np.random.default_rng(seed)
    results = []
    for name, step in steps:
        for layer in step:
            randomize_weights(layer, rng)
        randomized = heatmaps(clone, images, classes, layer_name)
        correlations = [rank_correlation(a, b) for a, b in zip(originals, randomized, strict=True)]
        results.append(
            {
                "randomized": name,
                "spearman": float(np.mean(correlations)),
                "per_image": correlations,
            }
        )
    return results
