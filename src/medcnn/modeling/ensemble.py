"""Several trained models answering as one: the mean of their calibrated logits.

`merge` builds a single Keras model: each member up to its penultimate features (a nested
model named `member_<i>`), their features side by side, and one softmax layer whose kernel
stacks the members' kernels, each divided by the member's temperature and by the number of
members. Its logits are the mean of the members' calibrated logits (a geometric mean of
their calibrated probabilities), and it has the shape of any medcnn model, features then
one Dense layer, so `Forward`, the feature reference, temperature scaling and Grad-CAM
(`explain.gradcam`, which adds up the members' maps) work on it as on one model.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np

from medcnn.config import CANONICAL_SIZE

MEMBER_PREFIX = "member_"


def merge(
    members: Sequence[keras.Model], temperatures: Sequence[float], name: str = "ensemble"
) -> keras.Model:
    """One model whose logits are the mean of each member's logits over its temperature."""
    if len(members) < 2 or len(members) != len(temperatures):
        raise ValueError("an ensemble wants two members or more, with one temperature each")
    image = keras.Input((CANONICAL_SIZE, CANONICAL_SIZE, 1), name="image")
    features, kernels, biases = [], [], []
    for index, (member, temperature) in enumerate(zip(members, temperatures, strict=True)):
        head = member.layers[-1]
        if not isinstance(head, keras.layers.Dense):
            raise ValueError(f"member {member.name!r} does not end in a Dense layer")
        trunk = keras.Model(member.inputs, head.input, name=f"{MEMBER_PREFIX}{index}")
        features.append(trunk(image))
        kernel, bias = head.get_weights()
        kernels.append(kernel / (temperature * len(members)))
        biases.append(bias / (temperature * len(members)))
    joined = keras.layers.Concatenate(name="features")(features)
    head = keras.layers.Dense(kernels[0].shape[1], activation="softmax", name="probabilities")
    outputs = head(joined)
    head.set_weights([np.concatenate(kernels), np.sum(biases, axis=0)])
    return keras.Model(image, outputs, name=name)


def members_of(model: keras.Model) -> list[keras.Model]:
    """The members of a model made by `merge`, in order; none for any other model."""
    return [
        layer
        for layer in model.layers
        if isinstance(layer, keras.Model) and layer.name.startswith(MEMBER_PREFIX)
    ]
