"""The dataset built from the real sources: complete, multi-source, and leak-free.

Needs the shared mirror (`MEDCNN_MIRROR`, or `../shared/data/sources` beside the
checkout), or every source already fetched into data/raw (as the GitHub workflow does from
upstream, with `MEDCNN_MIRROR` set empty). Outside CI the tests skip without either; in CI
their absence is a failure.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from medcnn.config import CLASSES, processed_dir, project_root, raw_dir
from medcnn.data.build import build_dataset
from medcnn.data.fetch import MARKER, fetch_sources
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


def all_fetched(sources) -> bool:
    return all((raw_dir() / source.slug / MARKER).is_file() for source in sources)


@pytest.fixture(scope="module")
def built():
    sources = load_sources()
    if find_mirror() is not None or not all_fetched(sources):  # else fetched from upstream
        fetch_sources(sources, mirror=require_mirror(), progress=False)
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
    if find_mirror() is None and all_fetched(load_sources()):
        pytest.skip("sources fetched from upstream: no mirror folder to compare")
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


def gradient_hash(gray: np.ndarray) -> np.ndarray:
    """256 bits as 4 uint64: is each pixel of a 17×16 bilinear thumbnail brighter than its left?

    Deliberately not the build's hash (Lanczos, `medcnn.data.dedup`): the check is independent.
    """
    small = Image.fromarray(gray).resize((17, 16), Image.Resampling.BILINEAR)
    values = np.asarray(small, dtype=np.int16)
    return np.packbits((values[:, 1:] > values[:, :-1]).ravel()).view(np.uint64)


def unit_thumbnail(gray: np.ndarray) -> np.ndarray:
    """32×32 bilinear thumbnail, centred and scaled so that dot products are correlations."""
    small = Image.fromarray(gray).resize((32, 32), Image.Resampling.BILINEAR)
    values = np.asarray(small, dtype=np.float32).ravel()
    values -= values.mean()
    norm = np.linalg.norm(values)
    return values / norm if norm else values


def alike_pairs(
    grays: list[np.ndarray], max_bits: int = 16, min_correlation: float = 0.98
) -> list[tuple[int, int]]:
    """Index pairs (i < j) within `max_bits` gradient-hash bits and `min_correlation`."""
    hashes = np.stack([gradient_hash(gray) for gray in grays])
    thumbs = np.stack([unit_thumbnail(gray) for gray in grays])
    pairs = []
    for start in range(0, len(hashes), 256):
        block = hashes[start : start + 256]
        distances = sum(np.bitwise_count(block[:, None, w] ^ hashes[None, :, w]) for w in range(4))
        for i, j in zip(*np.nonzero(distances <= max_bits), strict=True):
            i += start
            if j > i and thumbs[i] @ thumbs[j] >= min_correlation:
                pairs.append((int(i), int(j)))
    return pairs


def test_the_independent_check_finds_a_shifted_copy_and_nothing_else() -> None:
    coarse = np.random.default_rng(0).integers(0, 256, (8, 8), dtype=np.uint8)
    picture = np.asarray(Image.fromarray(coarse).resize((96, 96), Image.Resampling.BICUBIC))
    assert alike_pairs([picture, np.roll(picture, 1, axis=1), picture.T.copy()]) == [(0, 1)]


@pytest.mark.parametrize("view", ["stored", "canonical"])
def test_no_near_duplicate_pair_crosses_splits(built, view: str) -> None:
    """An independent near-duplicate check on the stored files and on the canonical pixels."""
    _, _, manifest = built
    if view == "stored":
        grays = [np.asarray(Image.open(raw_dir() / path).convert("L")) for path in manifest["path"]]
    else:
        grays = list(np.asarray(read_pixels()))
    pairs = alike_pairs(grays)
    splits = manifest["split"].to_numpy()
    crossing = [
        (manifest.at[i, "path"], manifest.at[j, "path"]) for i, j in pairs if splits[i] != splits[j]
    ]
    assert len(pairs) > 5_000  # the near twins are really there, and found
    assert crossing == []


def test_build_outputs_are_where_the_notebooks_look(built) -> None:
    assert (processed_dir() / "manifest.csv").is_file()
    assert (processed_dir() / "build_report.json").is_file()
