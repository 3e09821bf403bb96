"""The dataset built from the real mirror: complete, multi-source, and leak-free.

Needs the shared mirror (`MEDCNN_MIRROR`, or `../shared/data/sources` beside the
checkout). Outside CI the tests skip without it; in CI its absence is a failure.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from medcnn.config import CLASSES, processed_dir, project_root, raw_dir
from medcnn.data.build import build_dataset
from medcnn.data.dedup import difference_hash, near_duplicate_pairs, thumbnail, thumbnail_vectors
from medcnn.data.fetch import fetch_sources
from medcnn.data.manifest import read_manifest, read_pixels
from medcnn.data.sources import load_sources

pytestmark = pytest.mark.mirror


def find_mirror() -> Path | None:
    candidates = [os.environ.get("MEDCNN_MIRROR"), project_root().parent / "shared/data/sources"]
    return next((Path(c) for c in candidates if c and Path(c).is_dir()), None)


def require_mirror() -> Path:
    mirror = find_mirror()
    if mirror is None:
        if os.environ.get("CI"):
            pytest.fail("the shared image mirror is missing; CI must have ../shared beside main")
        pytest.skip("no image mirror: set MEDCNN_MIRROR")
    return mirror


@pytest.fixture(scope="module")
def built():
    mirror = require_mirror()
    sources = load_sources()
    fetch_sources(sources, mirror=mirror, progress=False)
    report = build_dataset(progress=False)
    return sources, report, read_manifest()


def test_every_image_is_kept_but_reported_duplicates(built) -> None:
    sources, report, manifest = built
    listed = sum(source.images for source in sources)
    assert len(sources) == 42
    assert report.images_listed == listed == 29_581
    dropped = report.exact_duplicates + report.near_duplicates_across_sources + report.unreadable
    assert len(manifest) == listed - dropped
    assert dropped <= 0.03 * listed


def test_every_mirror_folder_is_a_source() -> None:
    mirror = require_mirror()
    folders = {path.name for path in mirror.iterdir() if (path / "files.csv").is_file()}
    assert folders == {source.slug for source in load_sources()}


def test_every_class_draws_on_three_sources_in_training(built) -> None:
    _, _, manifest = built
    train = manifest[manifest["split"] == "train"]
    for label in CLASSES:
        assert train.loc[train["label"] == label, "source"].nunique() >= 3, label


def test_external_split_covers_every_class_with_whole_sources(built) -> None:
    _, _, manifest = built
    external = manifest[manifest["split"] == "external"]
    assert set(external["label"]) == set(CLASSES)
    external_sources = set(external["source"])
    assert not external_sources & set(manifest.loc[manifest["split"] != "external", "source"])
    assert external_sources == {
        "head-ct-mednist",
        "covid-ct-ucsd",
        "chest-ct-covid-ct-md",
        "scene15-grayscale",
        "cardiac-mri-mscmrseg",
    }


def test_no_group_crosses_splits(built) -> None:
    _, _, manifest = built
    assert manifest.groupby("group")["split"].nunique().max() == 1


def test_no_near_duplicate_pair_crosses_splits(built) -> None:
    """Measured as in the mirror's README, on the stored files, independently of the build."""
    _, _, manifest = built
    hashes, thumbs = [], []
    for path in manifest["path"]:
        with Image.open(raw_dir() / path) as image:
            gray = np.asarray(image.convert("L"))
        hashes.append(difference_hash(gray))
        thumbs.append(thumbnail(gray))
    pairs = near_duplicate_pairs(np.stack(hashes), thumbnail_vectors(np.stack(thumbs)), 16, 0.98)
    splits = manifest["split"].to_numpy()
    crossing = [
        (manifest.at[p.first, "path"], manifest.at[p.second, "path"])
        for p in pairs
        if splits[p.first] != splits[p.second]
    ]
    assert len(pairs) > 5_000  # the near twins are really there, and found
    assert crossing == []


def test_build_outputs_are_where_the_notebooks_look(built) -> None:
    assert (processed_dir() / "manifest.csv").is_file()
    assert (processed_dir() / "build_report.json").is_file()


def gradient_hash(gray: np.ndarray) -> np.ndarray:
    """256-bit horizontal-gradient hash of a 17×16 bilinear thumbnail: not the build's hash."""
    small = np.asarray(Image.fromarray(gray).resize((17, 16), Image.Resampling.BILINEAR), np.int16)
    return np.packbits((small[:, 1:] > small[:, :-1]).ravel()).view(np.uint64)


def test_a_second_independent_hash_finds_no_pair_across_splits(built) -> None:
    """Bilinear gradient hash ≤ 16 bits plus 32×32 correlation ≥ 0.98, on the canonical pixels."""
    _, _, manifest = built
    pixels = read_pixels()
    grays = [image[..., 0] if image.ndim == 3 else image for image in pixels]
    hashes = np.stack([gradient_hash(gray) for gray in grays])
    thumbs = thumbnail_vectors(np.stack([thumbnail(gray) for gray in grays]))
    splits = manifest["split"].to_numpy()
    crossing = [
        (manifest["path"][p.first], manifest["path"][p.second])
        for p in near_duplicate_pairs(hashes, thumbs, 16, 0.98)
        if splits[p.first] != splits[p.second]
    ]
    assert not crossing, crossing[:5]
