"""`medcnn data build` on synthetic sources: dedup, groups, splits, reports, safety."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd
import pytest

from medcnn.data import build as build_module
from medcnn.data.build import BuildError, build_dataset
from medcnn.data.manifest import manifest_path, read_manifest, read_pixels
from tests.helpers import brighter, synthetic_image


@pytest.fixture
def sources(write_source):
    """Three sources: a patient-keyed one, one with near twins, one with a cross-source copy."""
    scans = {f"scan{i}": synthetic_image(i) for i in range(12)}
    patients = {f"scan{i}": f"P{i // 2}" for i in range(12)}  # two images per patient
    twins = {f"lung{i}": synthetic_image(100 + i) for i in range(12)}
    twins["lung0_rewindowed"] = brighter(twins["lung0"])
    other = {f"photo{i}": synthetic_image(200 + i) for i in range(12)}
    other["copy_of_scan3"] = brighter(scans["scan3"], 6)
    other["exact_copy_of_photo1"] = other["photo1"]
    other["broken"] = b"\xff\xd8 this is not a complete jpeg"
    return [
        write_source("brain-a", "brain", scans, patients),
        write_source("lung-b", "lung", twins),
        write_source("other-c", "other", other),
    ]


def run(write_source, sources, settings, out: Path, **changes):
    return build_dataset(
        raw=write_source.raw,
        processed=out,
        sources=sources,
        settings=dataclasses.replace(settings, **changes),
        progress=False,
    )


def test_build_keeps_dedups_and_reports(write_source, sources, settings, tmp_path):
    report = run(write_source, sources, settings, tmp_path / "out")
    manifest = read_manifest(tmp_path / "out")
    assert report.images_listed == 40
    assert report.unreadable == 1
    assert report.exact_duplicates == 1
    assert report.near_duplicates_across_sources == 1
    assert len(manifest) == report.images_kept == 37
    assert "other-c/images/other/copy_of_scan3.jpg" not in set(manifest["path"])
    dropped = pd.read_csv(tmp_path / "out" / "duplicates.csv")
    exact = dropped[dropped["reason"] == "exact duplicate"].iloc[0]
    assert {exact["path"], exact["duplicate_of"]} == {
        "other-c/images/other/photo1.jpg",
        "other-c/images/other/exact_copy_of_photo1.jpg",
    }
    near = dropped[dropped["reason"] == "near duplicate across sources"].iloc[0]
    assert near["path"] == "other-c/images/other/copy_of_scan3.jpg"
    assert near["duplicate_of"] == "brain-a/images/brain/scan3.jpg"
    unreadable = pd.read_csv(tmp_path / "out" / "unreadable.csv")
    assert list(unreadable["path"]) == ["other-c/images/other/broken.jpg"]
    assert read_pixels(tmp_path / "out").shape == (37, 32, 32)


def test_patients_and_near_twins_share_a_group_and_a_split(
    write_source, sources, settings, tmp_path
):
    run(write_source, sources, settings, tmp_path / "out")
    manifest = read_manifest(tmp_path / "out").set_index("path")
    brain = manifest[manifest["source"] == "brain-a"]
    assert brain.groupby("patient_id")["group"].nunique().eq(1).all()
    assert brain["group"].nunique() == 6
    twin, original = "lung-b/images/lung/lung0_rewindowed.jpg", "lung-b/images/lung/lung0.jpg"
    assert manifest.at[twin, "group"] == manifest.at[original, "group"]
    assert (manifest.groupby("group")["split"].nunique() == 1).all()
    assert set(manifest["split"]) == {"train", "val", "test"}


def test_patient_namespace_spans_sources(write_source, settings, tmp_path):
    first = write_source("xr-1", "lung", {"a": synthetic_image(1)}, {"a": "p7"}, namespace="up")
    second = write_source("xr-2", "lung", {"b": synthetic_image(2)}, {"b": "p7"}, namespace="up")
    third = write_source("xr-3", "lung", {"c": synthetic_image(3)}, {"c": "p7"})
    run(write_source, [first, second, third], settings, tmp_path / "out")
    groups = read_manifest(tmp_path / "out").set_index("source")["group"]
    assert groups["xr-1"] == groups["xr-2"] != groups["xr-3"]


def test_same_seed_gives_byte_identical_manifest(write_source, sources, settings, tmp_path):
    run(write_source, sources, settings, tmp_path / "one")
    run(write_source, sources, settings, tmp_path / "two")
    run(write_source, sources, settings, tmp_path / "three", seed=1)
    one = manifest_path(tmp_path / "one").read_bytes()
    assert one == manifest_path(tmp_path / "two").read_bytes()
    assert one != manifest_path(tmp_path / "three").read_bytes()


def test_rebuild_reads_the_cache(write_source, sources, settings, tmp_path):
    first = run(write_source, sources, settings, tmp_path / "out")
    before = manifest_path(tmp_path / "out").read_bytes()
    second = run(write_source, sources, settings, tmp_path / "out")
    assert first.decoded == 38 and first.from_cache == 1  # the exact copy has identical bytes
    assert second.decoded == 0 and second.from_cache == 39
    assert manifest_path(tmp_path / "out").read_bytes() == before


def test_external_sources_are_whole_and_only_external(write_source, sources, settings, tmp_path):
    run(write_source, sources, settings, tmp_path / "out", external_sources=("lung-b",))
    manifest = read_manifest(tmp_path / "out")
    assert set(manifest.loc[manifest["source"] == "lung-b", "split"]) == {"external"}
    assert "external" not in set(manifest.loc[manifest["source"] != "lung-b", "split"])


def test_external_source_sharing_patients_is_refused(write_source, settings, tmp_path):
    first = write_source("xr-1", "lung", {"a": synthetic_image(1)}, {"a": "p7"}, namespace="up")
    second = write_source("xr-2", "lung", {"b": synthetic_image(2)}, {"b": "p7"}, namespace="up")
    with pytest.raises(BuildError, match="span external and training"):
        run(write_source, [first, second], settings, tmp_path / "out", external_sources=("xr-2",))


def test_missing_source_is_a_clear_error(write_source, sources, settings, tmp_path):
    missing = dataclasses.replace(sources[0], slug="never-fetched")
    with pytest.raises(BuildError, match="never-fetched.*medcnn data fetch"):
        run(write_source, [*sources, missing], settings, tmp_path / "out")


def test_interrupted_build_leaves_previous_manifest_intact(
    write_source, sources, settings, tmp_path, monkeypatch
):
    run(write_source, sources, settings, tmp_path / "out")
    before = manifest_path(tmp_path / "out").read_bytes()
    pixels_before = read_pixels(tmp_path / "out").copy()

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(build_module, "write_table", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run(write_source, sources, settings, tmp_path / "out", seed=5)
    monkeypatch.setattr(build_module, "name_groups", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run(write_source, sources, settings, tmp_path / "out", seed=6)
    assert manifest_path(tmp_path / "out").read_bytes() != before  # the first run got that far

    monkeypatch.undo()
    run(write_source, sources, settings, tmp_path / "out")
    monkeypatch.setattr(build_module, "name_groups", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run(write_source, sources, settings, tmp_path / "out", seed=6)
    assert manifest_path(tmp_path / "out").read_bytes() == before
    assert (read_pixels(tmp_path / "out") == pixels_before).all()
