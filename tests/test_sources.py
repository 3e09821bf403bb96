"""`sources.yml`: a valid file becomes Sources in file order; a malformed one is one clear line."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from medcnn.config import CLASSES
from medcnn.data.sources import REQUIRED, Archive, SourcesError, load_sources


def entry(name: str, **changes) -> dict:
    """A complete `sources.yml` entry, with `changes` applied (None deletes a key)."""
    values = {
        "slug": name,
        "label": "brain",
        "title": f"Title of {name}",
        "upstream": "https://example.org",
        "repository": "owner/repo",
        "commit": "0123456789abcdef",
        "licence": "CC0",
        "citation": "none",
        "bibkey": name,
        "images": "12",
        "files_csv_sha256": "ab" * 32,
    }
    values.update(changes)
    return {key: value for key, value in values.items() if value is not None}


def write(tmp_path: Path, *entries: dict) -> Path:
    path = tmp_path / "sources.yml"
    path.write_text(yaml.safe_dump({"sources": list(entries)}))
    return path


def test_a_valid_file_gives_sources_in_file_order_with_defaults(tmp_path) -> None:
    archive = {"url": "https://example.org/b.tar.gz", "sha256": "cd" * 32}
    path = write(tmp_path, entry("b", archive=archive, patient_namespace="shared"), entry("a"))
    first, second = load_sources(path)
    assert (first.slug, second.slug) == ("b", "a")
    assert first.archive == Archive(archive["url"], archive["sha256"])
    assert first.patient_namespace == "shared" and second.patient_namespace == "a"
    assert second.archive is None and second.images == 12


@pytest.mark.parametrize("key", REQUIRED)
def test_a_missing_or_empty_field_names_the_source_and_the_field(tmp_path, key) -> None:
    for broken in (entry("b", **{key: None}), entry("b", **{key: ""})):
        path = write(tmp_path, entry("a"), broken)
        with pytest.raises(SourcesError) as error:
            load_sources(path)
        assert str(error.value) == f"{path}: source #2 lacks {key}"


def test_an_unknown_label_is_refused(tmp_path) -> None:
    path = write(tmp_path, entry("a", label="kidney"))
    with pytest.raises(SourcesError) as error:
        load_sources(path)
    assert str(error.value) == f"{path}: a has label 'kidney', expected one of {CLASSES}"


def test_duplicate_slugs_are_refused(tmp_path) -> None:
    path = write(tmp_path, entry("a"), entry("a", label="lung"))
    with pytest.raises(SourcesError, match="duplicate slugs"):
        load_sources(path)


def test_a_missing_file_says_where_it_should_be(tmp_path) -> None:
    with pytest.raises(SourcesError, match="no sources file; it ships with the project"):
        load_sources(tmp_path / "nowhere.yml")


def test_the_committed_sources_load_and_cover_every_class() -> None:
    sources = load_sources()
    assert {source.label for source in sources} == set(CLASSES)
    assert all(len(source.files_csv_sha256) == 64 for source in sources)
