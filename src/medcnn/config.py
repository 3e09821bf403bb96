"""Project-wide settings: class names, paths and the environment variables that move them."""

from __future__ import annotations

import os
from pathlib import Path

CLASSES: tuple[str, ...] = ("brain", "lung", "other")
"""Label order used everywhere: model outputs, manifests, confusion matrices."""

CANONICAL_SIZE = 128
"""The model's input contract: side of the canonical square grayscale image, in pixels."""

MIRROR_ENV = "MEDCNN_MIRROR"
DATA_DIR_ENV = "MEDCNN_DATA_DIR"
SMOKE_ENV = "MEDCNN_SMOKE"
TRAIN_LIMIT_ENV = "MEDCNN_TRAIN_LIMIT"
UPSTREAM_URL_ENV = "MEDCNN_UPSTREAM_URL"
UPSTREAM_LIST_ENV = "MEDCNN_UPSTREAM_LIST_URL"
UPSTREAM_INDEX_ENV = "MEDCNN_UPSTREAM_INDEX"

UPSTREAM_URL = "https://raw.githubusercontent.com/{repository}/{commit}/{path}"
"""Where an original file is read: `{repository}` is owner/name, `{path}` is percent-encoded."""

UPSTREAM_LIST_URL = "https://api.github.com/repos/{repository}/contents/{path}?ref={commit}"
"""Where a folder is listed (a JSON array of objects with `name` and `type`), for sets of files."""

UPSTREAM_INDEX = "https://pypi.org/simple"
"""The package index (PEP 503 simple pages) that serves the wheels of PyPI rows."""


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


def runs_dir() -> Path:
    """`runs/`: trained models of the comparison, folds and checkpoints (not committed)."""
    return project_root() / "runs"


def mirror_dir() -> Path | None:
    """The local mirror of the sources named by `MEDCNN_MIRROR`, if set."""
    value = os.environ.get(MIRROR_ENV)
    return Path(value) if value else None


def train_limit() -> int | None:
    """`MEDCNN_TRAIN_LIMIT`: train notebook models on a class-stratified subset of this many
    training images (the book's budget on a 2-core machine); unset trains on all of them."""
    value = os.environ.get(TRAIN_LIMIT_ENV, "")
    return int(value) if value else None


def smoke_mode() -> bool:
    """True when `MEDCNN_SMOKE=1`: tiny subsets and one epoch, for unit tests only."""
    return os.environ.get(SMOKE_ENV, "0") not in ("", "0", "false", "False")


def upstream_url() -> str:
    """URL template for original files: `MEDCNN_UPSTREAM_URL`, else GitHub's raw-content address."""
    return os.environ.get(UPSTREAM_URL_ENV) or UPSTREAM_URL


def upstream_list_url() -> str:
    """URL template for folder listings: `MEDCNN_UPSTREAM_LIST_URL`, else GitHub's contents API."""
    return os.environ.get(UPSTREAM_LIST_ENV) or UPSTREAM_LIST_URL


def upstream_index() -> str:
    """Package index for wheels: `MEDCNN_UPSTREAM_INDEX`, else PyPI."""
    return os.environ.get(UPSTREAM_INDEX_ENV) or UPSTREAM_INDEX
