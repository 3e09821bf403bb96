"""Project-wide settings: class names, paths and the environment variables that move them."""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.util
import os
import sys
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
SEED_ENV = "MEDCNN_SEED"
MODELS_ENV = "MEDCNN_MODELS"
MODEL_ENV = "MEDCNN_MODEL"
KERAS_HOME_ENV = "KERAS_HOME"

TENSORFLOW_QUIET = {"TF_CPP_MIN_LOG_LEVEL": "2"}
"""Hides TensorFlow's C++ INFO and WARNING lines; `os.environ` wins where it sets them."""

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


def training_seed() -> int:
    """`MEDCNN_SEED`: the seed of the models trained by the notebooks and `medcnn train`; 0."""
    return int(os.environ.get(SEED_ENV) or 0)


def compared_recipes(default: list[str]) -> list[str]:
    """`MEDCNN_MODELS`: comma-separated recipe names notebook 02 trains, else `default`."""
    value = os.environ.get(MODELS_ENV, "")
    return [name.strip() for name in value.split(",") if name.strip()] or list(default)


def chosen_model(default: Path) -> Path:
    """`MEDCNN_MODEL`: the model file the prediction notebook loads, else `default`."""
    value = os.environ.get(MODEL_ENV)
    return Path(value) if value else Path(default)


def keras_home() -> Path:
    """`KERAS_HOME`, else the checkout's `.keras-home` (`make setup` fills it), else `~/.keras`."""
    value = os.environ.get(KERAS_HOME_ENV)
    if value:
        return Path(value)
    checkout = project_root() / ".keras-home"
    return checkout if checkout.is_dir() else Path.home() / ".keras"


class _QuietImport(importlib.abc.MetaPathFinder):
    """Runs the first `import tensorflow` with file descriptor 2 sent to /dev/null.

    TensorFlow's C++ start-up lines (absl's InitializeLog warning, oneDNN, CPU features)
    are written at import, before TF_CPP_MIN_LOG_LEVEL applies; Jupyter shows them as
    stderr in every notebook. Disabling oneDNN would also hide them, at 3× the training time.
    """

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            execute = spec.loader.exec_module

            def exec_module(module) -> None:
                with _stderr_to_devnull():
                    execute(module)

            spec.loader.exec_module = exec_module
        return spec


@contextlib.contextmanager
def _stderr_to_devnull():
    """File descriptor 2 points to /dev/null inside the block."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def quiet_tensorflow() -> None:
    """Keep TensorFlow's start-up noise out of notebooks and terminals; call before importing it."""
    for name, value in TENSORFLOW_QUIET.items():
        os.environ.setdefault(name, value)
    if "tensorflow" not in sys.modules and not any(
        isinstance(finder, _QuietImport) for finder in sys.meta_path
    ):
        sys.meta_path.insert(0, _QuietImport())
