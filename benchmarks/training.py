"""Training throughput of every recipe, against the bound the matmul rate sets.

Each phase of each recipe is compiled as `medcnn.training.fit` compiles it (Adam,
cosine decay, the phase's unfreezing) and trained on random canonical images held
in memory, so the figure is the network's speed, not the loader's.
"""

from __future__ import annotations

import time

import numpy as np
import tensorflow as tf

from benchmarks import flops
from medcnn.config import CLASSES
from medcnn.modeling.architectures import INPUT_SHAPE, WeightsUnavailable
from medcnn.training.fit import compile_phase, set_seeds
from medcnn.training.recipes import RECIPES, Recipe

WARMUP_STEPS = 3
TIMED_STEPS = 30


def random_batch(size: int, seed: int = 0) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """Random uint8 canonical images, labels and unit sample weights, as training feeds them."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (size, *INPUT_SHAPE), dtype=np.uint8)
    labels = rng.integers(0, len(CLASSES), size, dtype=np.int32)
    return tf.constant(images), tf.constant(labels), tf.ones(size)


def median_step_seconds(model, batch, warmup: int, steps: int) -> float:
    """Median seconds of one train step after `warmup` steps (which trace and warm it).

    The median, not the mean, so that a burst of other work on a shared machine does
    not move the figure; `train_on_batch` returns numbers, so each step has finished.
    """
    times = []
    for _ in range(warmup + steps):
        start = time.perf_counter()
        model.train_on_batch(*batch)
        times.append(time.perf_counter() - start)
    return float(np.median(times[warmup:]))


def recipe_throughput(
    recipe: Recipe, gflops: float, batch_size: int, warmup: int, steps: int
) -> dict:
    """Every phase of one recipe: train images/s, FLOPs per image, bound and fraction of it."""
    set_seeds(0)
    model = recipe.make_model(0)
    batch = random_batch(batch_size)
    forward = flops.forward_flops(model)
    result: dict = {"batch_size": batch_size, "forward_mflops_per_image": round(forward / 1e6, 1)}
    phases = []
    for number, phase in enumerate(recipe.phases, start=1):
        compile_phase(model, phase, steps=warmup + steps)
        train = flops.training_flops(model)
        rate = batch_size / median_step_seconds(model, batch, warmup, steps)
        bound = gflops * 1e9 / train
        phases.append(
            {
                "phase": number,
                "unfreeze": phase.unfreeze,
                "trainable_weights": len(model.trainable_weights),
                "train_mflops_per_image": round(train / 1e6, 1),
                "train_over_forward": round(train / forward, 2),
                "images_per_s": round(rate, 1),
                "bound_images_per_s": round(bound, 1),
                "fraction_of_bound": round(rate / bound, 3),
            }
        )
    result["phases"] = phases
    return result


def training_throughput(gflops: float, limit: int | None = None) -> dict:
    """Every recipe; `limit` shrinks batches to `limit` images and steps to a couple (tests)."""
    warmup, steps = (1, 2) if limit else (WARMUP_STEPS, TIMED_STEPS)
    result: dict = {
        "matmul_float32_gflops": gflops,
        "warmup_steps": warmup,
        "timed_steps": steps,
        "data": "random uint8 canonical images in memory, one fixed batch (train_on_batch)",
        "rate": "batch size / median step time",
        "flops": "Conv2D, DepthwiseConv2D and Dense multiply-adds × 2 (benchmarks.flops)",
    }
    recipes = result["recipes"] = {}
    for name, recipe in RECIPES.items():
        batch_size = min(recipe.batch_size, limit or recipe.batch_size)
        try:
            recipes[name] = recipe_throughput(recipe, gflops, batch_size, warmup, steps)
        except WeightsUnavailable as error:
            recipes[name] = {"skipped": str(error)}
    return result
