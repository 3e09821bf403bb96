"""Project-wide settings: class names, paths and the environment variables that move them."""

from __future__ import annotations

import os
from pathlib import Path

CLASSES: tuple[str, ...] = ("brain", "lung", "other")
"""Label order used everywhere: model outputs, manifests, confusion matrices."""

MIRROR_ENV = "MEDCNN_MIRROR"
DATA_DIR_ENV = "MEDCNN_DATA_DIR"
SMOKE_ENV = "MEDCNN_SMOKE"


def project_root() -> Path:
    """The checkout that holds `data/sources.yml` (editable install), else the working directory."""
    candidate = Path(__file__).resolve().parents[2]
    if (candidate / "data" / "sources.yml").is_file():
        return candidate
    for folder in (Path.cwd(), *Path.cwd().parents):
        if (folder / "data" / "sources.yml").is_file():
            return folder
    return Path.cwd()


def data_dir() -> Path:
    """Where `sources.yml`, `dataset.yml`, `raw/` and `processed/` live."""
    override = os.environ.get(DATA_DIR_ENV)
    return Path(override) if override else project_root() / "data"


def raw_dir() -> Path:
    return data_dir() / "raw"


def processed_dir() -> Path:
    return data_dir() / "processed"


def mirror_dir() -> Path | None:
    """The local mirror of the sources named by `MEDCNN_MIRROR`, if set."""
    value = os.environ.get(MIRROR_ENV)
    return Path(value) if value else None


def smoke_mode() -> bool:
    """True when `MEDCNN_SMOKE=1`: tiny subsets and one epoch, for unit tests only."""
    return os.environ.get(SMOKE_ENV, "0") not in ("", "0", "false", "False")
