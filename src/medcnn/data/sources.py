"""The public image sources the project uses, as recorded in `data/sources.yml`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from medcnn.config import CLASSES, data_dir


@dataclass(frozen=True)
class Archive:
    """An HTTP(S) archive (.tar.gz, .tgz, .tar or .zip) holding one source folder."""

    url: str
    sha256: str


@dataclass(frozen=True)
class Source:
    """One public image source: where it comes from, under which licence, and how to group it."""

    slug: str
    label: str
    title: str
    upstream: str
    repository: str
    commit: str
    licence: str
    citation: str
    bibkey: str
    images: int
    files_csv_sha256: str
    patient_namespace: str
    archive: Archive | None = None
    upstream_table: str | None = None
    """Path of the compressed upstream table, relative to the data folder."""
    upstream_csv_sha256: str | None = None
    """sha256 of the upstream table's CSV text (the mirror's `upstream.csv`)."""


class SourcesError(ValueError):
    """`sources.yml` is missing or malformed."""


REQUIRED = (
    "slug",
    "label",
    "title",
    "upstream",
    "repository",
    "commit",
    "licence",
    "citation",
    "bibkey",
    "images",
    "files_csv_sha256",
)


def sources_file() -> Path:
    return data_dir() / "sources.yml"


def load_sources(path: Path | None = None) -> list[Source]:
    """Read and validate `sources.yml`; sources come back in file order."""
    path = Path(path) if path else sources_file()
    if not path.is_file():
        raise SourcesError(
            f"{path}: no sources file; it ships with the project in data/sources.yml"
        )
    entries = (yaml.safe_load(path.read_text()) or {}).get("sources") or []
    sources: list[Source] = []
    for index, entry in enumerate(entries):
        missing = [key for key in REQUIRED if entry.get(key) in (None, "")]
        if missing:
            raise SourcesError(f"{path}: source #{index + 1} lacks {', '.join(missing)}")
        if entry["label"] not in CLASSES:
            raise SourcesError(
                f"{path}: {entry['slug']} has label {entry['label']!r}, expected one of {CLASSES}"
            )
        archive = entry.get("archive")
        sources.append(
            Source(
                slug=entry["slug"],
                label=entry["label"],
                title=entry["title"],
                upstream=entry["upstream"],
                repository=entry["repository"],
                commit=str(entry["commit"]),
                licence=entry["licence"],
                citation=entry["citation"],
                bibkey=entry["bibkey"],
                images=int(entry["images"]),
                files_csv_sha256=entry["files_csv_sha256"],
                patient_namespace=entry.get("patient_namespace") or entry["slug"],
                archive=Archive(archive["url"], archive["sha256"]) if archive else None,
                upstream_table=entry.get("upstream_table"),
                upstream_csv_sha256=entry.get("upstream_csv_sha256"),
            )
        )
    slugs = [s.slug for s in sources]
    if len(set(slugs)) != len(slugs):
        raise SourcesError(f"{path}: duplicate slugs")
    return sources
