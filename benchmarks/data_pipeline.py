"""Dataset build throughput, and medcnn's loader against Keras' directory loader."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np
import tensorflow as tf

from medcnn.config import CLASSES
from medcnn.data.build import build_dataset
from medcnn.data.dataset import make_dataset, split_arrays

BATCH = 64


def build_throughput(raw: Path, work: Path, sources=None, settings=None) -> dict:
    """`medcnn data build` from nothing (cold), then again with its decode cache (cached)."""
    processed = work / "processed"
    shutil.rmtree(processed, ignore_errors=True)
    result = {}
    for state in ("cold", "cached"):
        start = time.perf_counter()
        report = build_dataset(
            raw=raw, processed=processed, sources=sources, settings=settings, progress=False
        )
        seconds = time.perf_counter() - start
        result[state] = {
            "images": report.images_listed,
            "seconds": round(seconds, 2),
            "images_per_s": round(report.images_listed / seconds, 1),
        }
    result["cached_speedup"] = round(
        result["cached"]["images_per_s"] / result["cold"]["images_per_s"], 2
    )
    return result


def epoch_rate(batches, count: int) -> float:
    """Images per second to draw every batch once (images touched, to defeat laziness)."""
    start = time.perf_counter()
    for images, _ in batches:
        np.asarray(images[:, 0, 0])
    return count / (time.perf_counter() - start)


def link_class_folders(raw: Path, paths: list[str], labels: list[str], folder: Path) -> None:
    """`folder/<class>/<n>.jpg` symlinks to the same files, the layout Keras' loader expects."""
    shutil.rmtree(folder, ignore_errors=True)
    for name in CLASSES:
        (folder / name).mkdir(parents=True)
    for n, (path, label) in enumerate(zip(paths, labels, strict=True)):
        (folder / label / f"{n:06d}{Path(path).suffix}").symlink_to((raw / path).resolve())


def loader_throughput(raw: Path, processed: Path, work: Path, limit: int | None = None) -> dict:
    """One split's images per second, two epochs each, through three pipelines.

    - medcnn: `make_dataset` over the memory-mapped canonical pixels (cache, batch, prefetch);
    - keras_from_directory: `keras.utils.image_dataset_from_directory` on the same JPEG
      files (decode + resize every epoch, as its documentation shows it used);
    - in_memory: the same arrays as ready tf.Tensor batches, the upper bound.
    """
    import keras

    images, labels, frame = split_arrays("train", processed, limit=limit)
    count = len(labels)
    size = images.shape[1]
    folder = work / "by_class"
    link_class_folders(raw, list(frame["path"]), list(frame["label"]), folder)
    pipelines = {
        "medcnn": make_dataset(images, labels, BATCH, shuffle=True),
        "keras_from_directory": keras.utils.image_dataset_from_directory(
            folder,
            labels="inferred",
            class_names=list(CLASSES),
            color_mode="grayscale",
            image_size=(size, size),
            batch_size=BATCH,
            shuffle=True,
            seed=0,
            follow_links=True,
            verbose=False,
        ).prefetch(tf.data.AUTOTUNE),
        "in_memory": [
            (tf.constant(images[i : i + BATCH]), tf.constant(labels[i : i + BATCH]))
            for i in range(0, count, BATCH)
        ],
    }
    result: dict = {"images": count, "image_size": size, "batch_size": BATCH}
    for name, batches in pipelines.items():
        first, second = epoch_rate(batches, count), epoch_rate(batches, count)
        result[name] = {
            "epoch1_images_per_s": round(first, 1),
            "epoch2_images_per_s": round(second, 1),
        }
    for epoch in ("epoch1", "epoch2"):
        ours = result["medcnn"][f"{epoch}_images_per_s"]
        result[f"{epoch}_ratio_vs_keras_from_directory"] = round(
            ours / result["keras_from_directory"][f"{epoch}_images_per_s"], 2
        )
        result[f"{epoch}_fraction_of_in_memory"] = round(
            ours / result["in_memory"][f"{epoch}_images_per_s"], 3
        )
    shutil.rmtree(folder, ignore_errors=True)
    return result
