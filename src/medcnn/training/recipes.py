"""Recipes: which model to build and how to train it, phase by phase.

A transfer model trains in two phases: the pretrained base frozen, then its top
unfrozen at a lower learning rate. The CNNs train in one phase. The release is an
ensemble of two recipes, each trained under two seeds, merged into one model after
training (`modeling.ensemble`).
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import keras

COSINE_FLOOR = 0.05
"""The cosine schedule ends each phase at this fraction of its starting learning rate."""

SITE_AUGMENTATION = {
    "probability": 0.5,
    "gamma": (0.6, 1.6),
    "window_clip": 0.15,
    "blur_sigma": (0.3, 1.5),
    "noise_sigma": (2.0, 10.0),
    "jpeg_quality": (30, 95),
    "crop_area": (0.6, 1.0),
    "marks": 3,
}
"""Each step is applied to an image with `probability`, independently; ranges are uniform.
`window_clip` is the largest share of the intensity range a new window cuts at either end;
`marks` the most burned-in blocks (text lines, rulers, arrows) drawn in one corner."""


@dataclass(frozen=True)
class Phase:
    """Up to `epochs` epochs at a cosine-decaying learning rate from `learning_rate`.

    `unfreeze` > 0 makes that fraction of the pretrained base trainable first.
    """

    epochs: int
    learning_rate: float
    unfreeze: float = 0.0


@dataclass(frozen=True)
class Recipe:
    name: str
    title: str
    build: str
    """A builder of `medcnn.modeling.architectures`, by name: listing needs no TensorFlow."""
    size: int
    phases: tuple[Phase, ...]
    batch_size: int = 64
    patience: int = 2
    early_stopping: bool = True
    source_power: float = 0.5
    """Within-class source balancing (see `fit.sample_weights`); 0 weighs classes only."""
    modality_power: float = 0.0
    """Within-class modality balancing, likewise."""
    site_augmentation: bool = False
    """Window, gamma, blur, noise, JPEG, crops and burned-in marks (`training.augment`)."""
    options: dict[str, Any] | None = None

    def make_model(self, seed: int) -> keras.Model:
        build = getattr(importlib.import_module("medcnn.modeling.architectures"), self.build)
        extra = {"seed": seed} if self.build != "original_cnn" else {}
        return build(size=self.size, **extra, **(self.options or {}))

    def settings(self) -> dict[str, Any]:
        """What a trained model's card records of its recipe, and what reuse must match."""
        settings = {
            "build": self.build,
            "options": self.options,
            "working_size": self.size,
            "batch_size": self.batch_size,
            "phases": [vars(phase) for phase in self.phases],
            "early_stopping": self.early_stopping,
            "patience": self.patience,
            "source_power": self.source_power,
            "modality_power": self.modality_power,
            "site_augmentation": SITE_AUGMENTATION if self.site_augmentation else None,
            "cosine_floor": COSINE_FLOOR,
        }
        return json.loads(json.dumps(settings))  # as a card stores them: tuples become lists

    def smoke(self) -> Recipe:
        """One epoch per phase, for unit tests only."""
        return replace(self, phases=tuple(replace(p, epochs=1) for p in self.phases))


TRANSFER_PHASES = (Phase(3, 1e-3), Phase(8, 1e-4, unfreeze=0.3))
"""The head alone for up to 3 epochs, then the top 30 % of the base as well for up to 8."""

RECIPES = {
    "original_cnn": Recipe(
        "original_cnn",
        "original CNN (64 px, 3 epochs)",
        "original_cnn",
        size=64,
        phases=(Phase(3, 1e-3),),
        batch_size=32,
        early_stopping=False,
        source_power=0.0,
    ),
    "robust_cnn": Recipe(
        "robust_cnn",
        "robust CNN (64 px, augmented)",
        "robust_cnn",
        size=64,
        phases=(Phase(6, 3e-3),),
        options={"widths": (16, 32, 64, 128)},
    ),
    "mobilenet_v2": Recipe(
        "mobilenet_v2",
        "MobileNetV2 to block 13 (96 px, ImageNet)",
        "transfer_model",
        size=96,
        phases=TRANSFER_PHASES,
    ),
    "mobilenet_v2_whole": Recipe(
        "mobilenet_v2_whole",
        "the whole MobileNetV2 (96 px, ImageNet)",
        "transfer_model",
        size=96,
        phases=TRANSFER_PHASES,
        options={"cut": None},
    ),
}
"""The models notebook 02 compares, and the release's second member (the whole network,
trained by `make model`); the original CNN trains exactly as it was published."""

RELEASE_MEMBERS = ("mobilenet_v2", "mobilenet_v2_whole")
"""The recipes merged into `models/medcnn.keras`: the mean of their calibrated logits,
which the leave-source-out folds chose over either alone."""

SEEDS_PER_MEMBER = 2
"""How many seeds each release member is trained under; the folds chose two over one."""


def release_networks(seed: int) -> tuple[tuple[str, int], ...]:
    """The (recipe, seed) of each network the release under `seed` merges: every member
    under seeds `seed`·n to `seed`·n + n − 1 for n = `SEEDS_PER_MEMBER`, so that the
    release under seeds 0, 1, 2 shares no network."""
    first = seed * SEEDS_PER_MEMBER
    return tuple(
        (name, member_seed)
        for name in RELEASE_MEMBERS
        for member_seed in range(first, first + SEEDS_PER_MEMBER)
    )


RELEASE_TITLE = "MobileNetV2 to block 13 + the whole MobileNetV2 (96 px, ImageNet)"
"""What the release's card and the book call it."""
