"""Fitting a recipe: seeds, distribution strategy, class weights, checkpoints, early stopping.

Selection uses the validation split only: the checkpoint keeps the epoch with the
lowest validation loss, and every phase continues from the best epoch so far.
"""

from __future__ import annotations

import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from medcnn.data.dataset import make_dataset
from medcnn.modeling.architectures import unfreeze_top
from medcnn.training.augment import site_augment
from medcnn.training.recipes import COSINE_FLOOR, Phase, Recipe

LOSS = "sparse_categorical_crossentropy"


@dataclass
class FitResult:
    model: keras.Model
    history: pd.DataFrame
    """One row per epoch: epoch, loss, accuracy, val_loss, val_accuracy, phase."""
    seconds: float
    images_per_second: float
    best_epoch: int


def conditions() -> dict[str, Any]:
    """What a timing depends on: processor, core count, accelerators."""
    return {
        "cpu_cores": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
        "gpus": len(tf.config.list_physical_devices("GPU")),
    }


def set_seeds(seed: int) -> None:
    """Python, NumPy and TensorFlow seeds; thread scheduling still varies between runs."""
    keras.utils.set_random_seed(seed)


def distribution_strategy() -> tf.distribute.Strategy:
    """MirroredStrategy over every GPU when there are several, else the default strategy."""
    gpus = tf.config.list_logical_devices("GPU")
    return tf.distribute.MirroredStrategy() if len(gpus) > 1 else tf.distribute.get_strategy()


def sample_weights(
    labels: np.ndarray,
    rows: pd.DataFrame | None = None,
    source_power: float = 0.0,
    modality_power: float = 0.0,
) -> np.ndarray:
    """Per-image weights: every class weighs the same in total (balanced class weights).

    Within a class, an image whose source has n training images weighs n^-source_power,
    so small sources (a CT collection among MRI ones) are not drowned out; 0.5 is a
    compromise between no balancing and giving every source equal say (1.0), which
    would repeat a 40-image source many times over. `modality_power` does the same
    for the class's imaging modalities (`rows` needs `source` and `modality` columns).
    """
    weights = np.ones(len(labels))
    for column, power in (("source", source_power), ("modality", modality_power)):
        if rows is not None and power:
            strata = pd.Series(labels).astype(str) + "/" + rows[column].astype(str).to_numpy()
            weights *= strata.map(strata.value_counts()).to_numpy(float) ** -power
    present = np.unique(labels)
    for label in present:
        members = labels == label
        weights[members] *= len(labels) / (len(present) * weights[members].sum())
    return weights


def weighted_dataset(
    images: np.ndarray,
    labels: np.ndarray,
    weights: np.ndarray,
    batch_size: int,
    seed: int,
    site_augmentation: bool = False,
) -> tf.data.Dataset:
    """(image, label, weight) batches, cached and reshuffled every epoch with the seed.

    With `site_augmentation`, every image of every epoch passes through
    `augment.site_augment` with its own seed drawn from `seed`.
    """
    dataset = tf.data.Dataset.from_tensor_slices((images, labels, weights.astype("float32")))
    dataset = dataset.cache().shuffle(len(labels), seed=seed, reshuffle_each_iteration=True)
    if site_augmentation:
        seeds = tf.data.Dataset.random(seed=seed).batch(2)
        dataset = tf.data.Dataset.zip(dataset, seeds).map(
            lambda example, pair: (site_augment(example[0], pair), *example[1:]),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def compile_phase(model: keras.Model, phase: Phase, steps: int) -> None:
    """Adam with a cosine-decaying learning rate over the phase; unfreezes the base if asked."""
    if phase.unfreeze:
        unfreeze_top(model, phase.unfreeze)
    schedule = keras.optimizers.schedules.CosineDecay(
        phase.learning_rate, decay_steps=max(1, steps * phase.epochs), alpha=COSINE_FLOOR
    )
    model.compile(optimizer=keras.optimizers.Adam(schedule), loss=LOSS, metrics=["accuracy"])


def drop_optimizer(model: keras.Model) -> None:
    """Forget the optimizer state, so the saved model holds only what prediction needs."""
    model.optimizer = None
    model.compiled = False


def fit_recipe(
    recipe: Recipe,
    train: tuple[np.ndarray, np.ndarray],
    val: tuple[np.ndarray, np.ndarray],
    workdir: Path,
    seed: int = 0,
    verbose: int = 2,
    rows: pd.DataFrame | None = None,
) -> FitResult:
    """Build and train the recipe's model; returns it at its best validation epoch.

    `rows` (manifest rows of the training images) drive the recipe's source and
    modality balancing.
    """
    set_seeds(seed)
    strategy = distribution_strategy()
    with strategy.scope():
        model = recipe.make_model(seed)
    workdir.mkdir(parents=True, exist_ok=True)
    weights = sample_weights(train[1], rows, recipe.source_power, recipe.modality_power)
    train_data = weighted_dataset(
        *train, weights, recipe.batch_size, seed, recipe.site_augmentation
    )
    val_data = make_dataset(*val, recipe.batch_size)
    steps = int(np.ceil(len(train[1]) / recipe.batch_size))
    checkpoint_path = workdir / f"{recipe.name}.best.weights.h5"
    checkpoint = keras.callbacks.ModelCheckpoint(
        checkpoint_path, monitor="val_loss", save_best_only=True, save_weights_only=True
    )
    frames, seconds = [], 0.0
    for number, phase in enumerate(recipe.phases, start=1):
        with strategy.scope():
            compile_phase(model, phase, steps)
        callbacks = [checkpoint]
        if recipe.early_stopping:
            callbacks.append(
                keras.callbacks.EarlyStopping(monitor="val_loss", patience=recipe.patience)
            )
        if verbose:
            print(f"{recipe.name}: phase {number}, up to {phase.epochs} epochs", flush=True)
        start = time.perf_counter()
        history = model.fit(
            train_data,
            validation_data=val_data,
            epochs=phase.epochs,
            callbacks=callbacks,
            shuffle=False,  # the dataset is already shuffled with the seed
            verbose=verbose,
        )
        seconds += time.perf_counter() - start
        model.load_weights(checkpoint_path)
        frame = pd.DataFrame(history.history)
        frame["phase"] = number
        frames.append(frame)
    drop_optimizer(model)
    history = pd.concat(frames, ignore_index=True)
    history.insert(0, "epoch", np.arange(1, len(history) + 1))
    best_epoch = int(history.loc[history["val_loss"].idxmin(), "epoch"])
    images = len(train[1]) * len(history)
    return FitResult(model, history, seconds, images / seconds, best_epoch)
