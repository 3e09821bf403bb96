"""Helpers shared by test modules: synthetic pictures, fake sources, small saved models."""

from __future__ import annotations

import hashlib
from pathlib import Path

import keras
import numpy as np
from PIL import Image

from medcnn.config import CANONICAL_SIZE, CLASSES
from medcnn.data.sources import Source
from medcnn.modeling import artifacts

# --- pictures ---------------------------------------------------------------------------------


def synthetic_image(seed: int, size: tuple[int, int] = (64, 64)) -> Image.Image:
    """A smooth random grayscale picture: distinct per seed, stable under mild edits."""
    coarse = np.random.default_rng(seed).integers(0, 256, (8, 8), dtype=np.uint8)
    return Image.fromarray(coarse).resize(size, Image.Resampling.BICUBIC)


def brighter(image: Image.Image, amount: int = 12) -> Image.Image:
    """A re-windowed copy: the same picture, a little brighter (a near twin)."""
    pixels = np.asarray(image, dtype=np.int16) + amount
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def scan_png(path: Path) -> Path:
    """A smooth 100×80 grayscale scan-like PNG written to `path`."""
    rows, cols = np.mgrid[0:80, 0:100]
    Image.fromarray((100 + 80 * np.sin(rows / 7.0) * np.cos(cols / 11.0)).astype(np.uint8)).save(
        path
    )
    return path


# --- fake sources -----------------------------------------------------------------------------


def write_source(
    root: Path,
    slug: str,
    label: str,
    images: dict[str, Image.Image | bytes | None],
    patients: dict[str, str] | None = None,
    namespace: str | None = None,
    modality: str = "MRI",
) -> Source:
    """Write `root/<slug>/` as the mirror lays a source out and return its matching Source.

    The folder holds `files.csv`, `SOURCE.md` and `images/<label>/<stem>.jpg`. `images` maps
    a file stem to a PIL image, to raw bytes (a corrupt file), or to None (listed, missing);
    `patients` maps a stem to its patient id.
    """
    folder = Path(root) / slug
    (folder / "images" / label).mkdir(parents=True, exist_ok=True)
    rows = ["file,label,subtype,modality,view,patient_id,original_path"]
    for stem, image in images.items():
        name = f"images/{label}/{stem}.jpg"
        if isinstance(image, bytes):
            (folder / name).write_bytes(image)
        elif image is not None:
            image.save(folder / name, "JPEG", quality=95)
        patient = (patients or {}).get(stem, "")
        rows.append(f"{name},{label},x,{modality},axial,{patient},up/{stem}")
    listing = folder / "files.csv"
    listing.write_text("\n".join(rows) + "\n")
    (folder / "SOURCE.md").write_text(f"# {slug}\n")
    return Source(
        slug=slug,
        label=label,
        title=slug,
        upstream="https://example.org",
        repository="example/repo",
        commit="0" * 40,
        licence="CC0",
        citation="none",
        bibkey=slug,
        images=len(images),
        files_csv_sha256=hashlib.sha256(listing.read_bytes()).hexdigest(),
        patient_namespace=namespace or slug,
    )


# --- models -----------------------------------------------------------------------------------


def tiny_model(favour: str | None = None, convolution: bool = True) -> keras.Model:
    """A contract-shaped model: (128, 128, 1) pixels 0-255 → softmax over CLASSES.

    `favour` makes the head almost ignore the image and answer that class with ~99 %;
    without it the model is near-uniform, i.e. unsure.
    """
    keras.utils.set_random_seed(0)
    image = keras.Input((CANONICAL_SIZE, CANONICAL_SIZE, 1), name="image")
    x = keras.layers.Rescaling(1 / 255)(image)
    if convolution:
        x = keras.layers.Conv2D(4, 5, strides=4, activation="relu", name="conv")(x)
        x = keras.layers.GlobalAveragePooling2D()(x)
    else:
        x = keras.layers.Flatten()(keras.layers.AveragePooling2D(16)(x))
    features = keras.layers.Dense(8, activation="relu", name="features")(x)
    head = keras.layers.Dense(len(CLASSES), activation="softmax", name="head")
    model = keras.Model(image, head(features))
    bias = np.zeros(len(CLASSES), np.float32)
    if favour is not None:
        bias[CLASSES.index(favour)] = 6.0
    head.set_weights([head.get_weights()[0] * 0.01, bias])
    return model


def save_tiny_model(path: Path, favour: str | None = None, convolution: bool = True) -> Path:
    """`tiny_model` saved with its card (no manifest behind it) at `path`; returns the path."""
    path = Path(path)
    card = artifacts.make_card("tiny", 0, processed=path.parent)
    return artifacts.save_model(tiny_model(favour, convolution), path, card)
