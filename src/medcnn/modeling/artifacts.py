"""Saved models and their model cards: `name.keras` with `name.json` beside it.

The card says what a model expects and how it scored, so that a model file is
never used with the wrong preprocessing or class order.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import platform
import zipfile
from pathlib import Path
from typing import Any

from medcnn.config import CANONICAL_SIZE, CLASSES, project_root
from medcnn.data.manifest import manifest_path
from medcnn.io import write_atomic

RELEASE_NAME = "medcnn"
PREPROCESSING = (
    "decode (EXIF-rotated, 16-bit stretched to the 0.5-99.5 percentile), grayscale, "
    f"pad to square, LANCZOS resize to {CANONICAL_SIZE} px, uint8 0-255; "
    "resizing to the network's working size and scaling happen inside the model"
)


class ModelLoadError(Exception):
    """A model file that is missing, unreadable, or does not fit medcnn."""


def models_dir() -> Path:
    return project_root() / "models"


def release_model_path() -> Path:
    """`models/medcnn.keras`: the model every entry point uses by default."""
    return models_dir() / f"{RELEASE_NAME}.keras"


def card_path(model_path: Path) -> Path:
    return Path(model_path).with_suffix(".json")


def manifest_digest(processed: Path | None = None) -> str | None:
    """SHA-256 of the manifest the model was trained on, or None without one."""
    path = manifest_path(processed)
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def library_versions() -> dict[str, str]:
    import keras
    import numpy
    import tensorflow

    return {
        "python": platform.python_version(),
        "tensorflow": tensorflow.__version__,
        "keras": keras.__version__,
        "numpy": numpy.__version__,
    }


def make_card(
    name: str,
    seed: int,
    metrics: dict[str, Any] | None = None,
    training: dict[str, Any] | None = None,
    processed: Path | None = None,
) -> dict[str, Any]:
    """The model card: classes, input, preprocessing, data, metrics, versions, date, seed."""
    return {
        "name": name,
        "classes": list(CLASSES),
        "input_shape": [CANONICAL_SIZE, CANONICAL_SIZE, 1],
        "input_dtype": "uint8",
        "preprocessing": PREPROCESSING,
        "manifest_sha256": manifest_digest(processed),
        "seed": seed,
        "metrics": metrics or {},
        "training": training or {},
        "versions": library_versions(),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def trainings(card: dict[str, Any]) -> list[dict[str, Any]]:
    """How the model of `card` was trained: one record per member of an ensemble, else one."""
    training = card.get("training", {})
    return list(training.get("members", [training]))


def save_model(model: Any, path: Path, card: dict[str, Any]) -> Path:
    """Write `path` (.keras) and its card atomically; returns the model path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.stem}.partial.keras")
    model.save(staging)
    staging.replace(path)
    write_atomic(card_path(path), (json.dumps(card, indent=2, sort_keys=True) + "\n").encode())
    return path


def read_card(model_path: Path) -> dict[str, Any]:
    """The card beside a model file; a missing or unreadable card is a ModelLoadError."""
    path = card_path(model_path)
    try:
        card = json.loads(path.read_text())
    except FileNotFoundError:
        raise ModelLoadError(
            f"{path}: model card missing; save models with medcnn.modeling.artifacts.save_model"
        ) from None
    except (OSError, ValueError) as error:
        raise ModelLoadError(f"{path}: unreadable model card ({error})") from None
    if list(card.get("classes", [])) != list(CLASSES):
        raise ModelLoadError(
            f"{path}: the model predicts {card.get('classes')}, medcnn expects {list(CLASSES)}"
        )
    return card


def load_model(path: Path | str | None = None) -> Any:
    """Load a `.keras` model in safe mode and check it against its card.

    Defaults to the release model. Every failure is a one-line ModelLoadError
    naming the file and the fix.
    """
    import keras

    path = Path(path) if path is not None else release_model_path()
    fix = "run `make model` to train and save the release model, or pass --model PATH"
    if not path.is_file():
        raise ModelLoadError(f"{path}: no such model file; {fix}")
    if path.suffix != ".keras" or not zipfile.is_zipfile(path):
        raise ModelLoadError(f"{path}: not a Keras .keras archive (corrupt or wrong file); {fix}")
    card = read_card(path)
    try:
        model = keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as error:  # Keras raises many types for a damaged archive
        reason = str(error).splitlines()[0][:200] if str(error) else type(error).__name__
        raise ModelLoadError(f"{path}: cannot load the model ({reason}); {fix}") from None
    expected = (None, *card["input_shape"])
    if tuple(model.input_shape) != expected or model.output_shape != (None, len(CLASSES)):
        raise ModelLoadError(
            f"{path}: model takes {model.input_shape} and gives {model.output_shape}, "
            f"expected {expected} → (None, {len(CLASSES)}); {fix}"
        )
    model.medcnn_card = card
    return model
