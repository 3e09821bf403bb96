"""Analytic floating-point operations of a Keras model, per image.

Only the layers that multiply by a kernel are counted, as 2 × multiply-adds:
Conv2D (grouped too), DepthwiseConv2D and Dense, recursing into nested models.
Elementwise work, BatchNorm, pooling, resizing, biases and activations are
ignored: for the recipes' models the count is within 3 % of what
TensorFlow's graph profiler counts for a forward pass.
"""

from __future__ import annotations

import math

import keras

COUNTED = (keras.layers.Conv2D, keras.layers.DepthwiseConv2D, keras.layers.Dense)


def kernel_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """The counted layers in forward order, nested models flattened."""
    found = []
    for layer in model.layers:
        if isinstance(layer, COUNTED):
            found.append(layer)
        elif hasattr(layer, "layers"):
            found += kernel_layers(layer)
    return found


def layer_flops(layer: keras.layers.Layer) -> int:
    """Forward FLOPs of one image: 2 × output positions × kernel size.

    A Conv2D kernel (kh, kw, cin/groups, cout) is applied at every output pixel; a
    DepthwiseConv2D kernel (kh, kw, cin, multiplier) likewise; a Dense kernel (in, out)
    at every position of its input but the last axis.
    """
    positions = math.prod(layer.output.shape[1:-1])
    return 2 * positions * math.prod(layer.kernel.shape)


def forward_flops(model: keras.Model) -> int:
    """Forward FLOPs of one image through the counted layers."""
    return sum(layer_flops(layer) for layer in kernel_layers(model))


def training_flops(model: keras.Model) -> int:
    """FLOPs of one training image: forward, plus the backward pass as the model stands.

    Backward costs one forward's worth per gradient: for the weights of a trainable
    layer, and for the input of every layer after the first trainable one (frozen
    layers before it need no gradient). A fully trainable model thus costs close to
    3 × forward; a partly frozen one less.
    """
    total, upstream_trainable = 0, False
    for layer in kernel_layers(model):
        forward = layer_flops(layer)
        trainable = bool(layer.trainable_weights)
        total += forward * (1 + trainable + upstream_trainable)
        upstream_trainable = upstream_trainable or trainable
    return total
