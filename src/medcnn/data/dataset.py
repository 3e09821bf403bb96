"""tf.data pipelines over the manifest's canonical pixels.

Images were decoded once by `medcnn data build`; here they are only sliced
from the memory-mapped pixel file, cached in memory, shuffled with a seed,
batched and prefetched. Augmentation lives in the models, not here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import tensorflow as tf

from medcnn.config import CLASSES
from medcnn.data.manifest import SplitError, read_manifest, read_pixels


def label_indices(labels: pd.Series | list[str]) -> np.ndarray:
    """Class names → integer indices in `CLASSES` order."""
    index = {name: i for i, name in enumerate(CLASSES)}
    return np.array([index[label] for label in labels], dtype=np.int32)


def split_arrays(
    split: str, processed: Path | None = None, limit: int | None = None, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """Images (N, S, S, 1) uint8, labels (N,) int32 and manifest rows of one split.

    `limit` keeps a seeded, class-stratified subset (smoke runs and tests).
    """
    manifest = read_manifest(processed)
    rows = manifest.index[manifest["split"] == split].to_numpy()
    if rows.size == 0:
        raise SplitError(
            f"split {split!r} is empty or unknown; "
            f"the manifest has {sorted(manifest['split'].unique())}"
        )
    if limit is not None and limit < rows.size:
        rng = np.random.default_rng(seed)
        by_label = [
            rng.permutation(rows[manifest.loc[rows, "label"].to_numpy() == label])
            for label in CLASSES
        ]
        per_class = max(1, limit // len(CLASSES))
        rows = np.sort(np.concatenate([chosen[:per_class] for chosen in by_label]))
    images = np.asarray(read_pixels(processed)[rows])[..., np.newaxis]
    frame = manifest.loc[rows].reset_index(drop=True)
    return images, label_indices(frame["label"]), frame


def make_dataset(
    images: np.ndarray,
    labels: np.ndarray,
    batch_size: int = 64,
    shuffle: bool = False,
    seed: int = 0,
) -> tf.data.Dataset:
    """(uint8 image batch, int label batch) pairs: cached, optionally shuffled, prefetched."""
    dataset = tf.data.Dataset.from_tensor_slices((images, labels)).cache()
    if shuffle:
        dataset = dataset.shuffle(len(labels), seed=seed, reshuffle_each_iteration=True)
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)
