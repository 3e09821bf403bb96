"""Shared fixtures: tiny synthetic image sources laid out like the real mirror."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from medcnn.data.build import BuildSettings
from medcnn.data.sources import Source


def synthetic_image(seed: int, size: tuple[int, int] = (64, 64)) -> Image.Image:
    """A smooth random grayscale picture: distinct per seed, stable under mild edits."""
    coarse = np.random.default_rng(seed).integers(0, 256, (8, 8), dtype=np.uint8)
    return Image.fromarray(coarse).resize(size, Image.Resampling.BICUBIC)


def brighter(image: Image.Image, amount: int = 12) -> Image.Image:
    """A re-windowed copy: the same picture, a little brighter (a near twin)."""
    pixels = np.asarray(image, dtype=np.int16) + amount
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


SourceWriter = Callable[..., Source]


@pytest.fixture
def write_source(tmp_path: Path) -> SourceWriter:
    """Write `raw/<slug>/` (files.csv + JPEGs) and return its Source.

    `images` maps a file stem to a PIL image, or to raw bytes for a corrupt file;
    `patients` maps a stem to its patient id.
    """
    raw = tmp_path / "raw"

    def write(
        slug: str,
        label: str,
        images: dict[str, Image.Image | bytes],
        patients: dict[str, str] | None = None,
        namespace: str | None = None,
    ) -> Source:
        folder = raw / slug / "images" / label
        folder.mkdir(parents=True, exist_ok=True)
        rows = ["file,label,subtype,modality,view,patient_id,original_path"]
        for stem, image in images.items():
            path = folder / f"{stem}.jpg"
            if isinstance(image, bytes):
                path.write_bytes(image)
            else:
                image.save(path, "JPEG", quality=95)
            patient = (patients or {}).get(stem, "")
            rows.append(f"images/{label}/{stem}.jpg,{label},x,MRI,axial,{patient},up/{stem}")
        csv = raw / slug / "files.csv"
        csv.write_text("\n".join(rows) + "\n")
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
            files_csv_sha256=hashlib.sha256(csv.read_bytes()).hexdigest(),
            patient_namespace=namespace or slug,
        )

    write.raw = raw
    return write


@pytest.fixture
def settings() -> BuildSettings:
    """Small canonical images; an even three-way split so small tests fill every split."""
    return BuildSettings(
        image_size=32,
        seed=0,
        split_fractions={"train": 0.6, "val": 0.2, "test": 0.2},
        external_sources=(),
    )
