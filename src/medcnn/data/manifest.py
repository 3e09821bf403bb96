"""The manifest: one row per kept image, and the canonical pixels that go with it.

`manifest.csv` names every image (path, label, source, group, split, hash…);
`pixels-<digest>.npy` holds their canonical arrays in the same row order. The
pixel file is named after the manifest's own SHA-256, so a manifest can only
ever be read with the pixels it was written with.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from medcnn.config import processed_dir
from medcnn.io import write_atomic

COLUMNS = (
    "path",
    "label",
    "source",
    "subtype",
    "modality",
    "view",
    "patient_id",
    "group",
    "split",
    "hash",
    "width",
    "height",
)
MANIFEST_NAME = "manifest.csv"


class ManifestError(FileNotFoundError):
    """No usable manifest: it is missing, or its pixel file is."""


class SplitError(ValueError):
    """The manifest has no image in the split asked for."""


def manifest_path(processed: Path | None = None) -> Path:
    return Path(processed or processed_dir()) / MANIFEST_NAME


def pixels_path(manifest_bytes: bytes, processed: Path) -> Path:
    return processed / f"pixels-{hashlib.sha256(manifest_bytes).hexdigest()[:16]}.npy"


def write_manifest(frame: pd.DataFrame, pixels: np.ndarray, processed: Path) -> Path:
    """Write the pixels first, then swap in the manifest; older pixel files are removed last."""
    manifest_bytes = frame.loc[:, list(COLUMNS)].to_csv(index=False, lineterminator="\n").encode()
    target = pixels_path(manifest_bytes, processed)
    processed.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(
        dir=processed, prefix=".pixels.", suffix=".npy", delete=False
    ) as tmp:
        np.save(tmp, np.ascontiguousarray(pixels, dtype=np.uint8))
    os.replace(tmp.name, target)
    write_atomic(manifest_path(processed), manifest_bytes)
    for stale in processed.glob("pixels-*.npy"):
        if stale != target:
            stale.unlink()
    return manifest_path(processed)


def read_manifest(processed: Path | None = None) -> pd.DataFrame:
    """The manifest as a DataFrame with string columns kept as strings."""
    path = manifest_path(processed)
    if not path.is_file():
        raise ManifestError(f"{path}: no manifest; run `medcnn data build` first")
    return pd.read_csv(
        path, dtype={"patient_id": str, "subtype": str, "view": str}, keep_default_na=False
    )


def read_pixels(processed: Path | None = None) -> np.ndarray:
    """The canonical pixels (N, S, S) uint8, memory-mapped, row-aligned with the manifest."""
    path = manifest_path(processed)
    if not path.is_file():
        raise ManifestError(f"{path}: no manifest; run `medcnn data build` first")
    pixels = pixels_path(path.read_bytes(), path.parent)
    if not pixels.is_file():
        raise ManifestError(
            f"{pixels}: the manifest's pixel file is missing; run `medcnn data build` again"
        )
    return np.load(pixels, mmap_mode="r")
