"""A source's upstream table: one row per image naming its original, the transform and a hash.

The project commits every table as `data/upstream/<slug>.csv.gz` (the mirror's `upstream.csv`)
beside `<slug>.files.csv.gz` (the mirror's `files.csv`); `sources.yml` records the table's path
and the sha256 of its CSV text, and `files_csv_sha256` checks the listing.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

from medcnn.config import data_dir
from medcnn.data.sources import Source

COLUMNS = (
    "file",
    "repository",
    "commit",
    "original_path",
    "original_sha256",
    "transform",
    "dhash256",
)


class TableError(ValueError):
    """An upstream table is missing, does not match its recorded sha256, or is malformed."""


@dataclass(frozen=True)
class Row:
    """One image: where its original is, how to turn it into the image, the image's dhash256."""

    file: str
    repository: str
    commit: str
    original_path: str
    original_sha256: str
    transform: str
    dhash256: str

    @property
    def is_wheel(self) -> bool:
        return self.repository.startswith("pypi:")


@dataclass(frozen=True)
class Table:
    """A source's upstream rows and the text of its files.csv, rows in the same order."""

    rows: list[Row]
    files_csv: bytes

    def listing(self, files: set[str]) -> bytes:
        """The files.csv text restricted to `files`, header and row order kept."""
        lines = self.files_csv.decode("utf-8").splitlines(keepends=True)
        kept = [lines[0]]
        for line in lines[1:]:
            if next(csv.reader([line]))[0] in files:
                kept.append(line)
        return "".join(kept).encode("utf-8")


def table_paths(source: Source, root: Path | None = None) -> tuple[Path, Path]:
    """The compressed upstream table of `source` and its compressed files.csv."""
    if not source.upstream_table:
        raise TableError(f"{source.slug}: sources.yml names no upstream_table")
    table = Path(root or data_dir()) / source.upstream_table
    return table, table.with_name(table.name.removesuffix(".csv.gz") + ".files.csv.gz")


def load_table(source: Source, root: Path | None = None) -> Table:
    """Read and check the committed upstream table and files.csv of `source`."""
    table_path, files_path = table_paths(source, root)
    text = _gunzip(source, table_path)
    if hashlib.sha256(text).hexdigest() != source.upstream_csv_sha256:
        raise TableError(
            f"{source.slug}: {table_path.name} does not match its sha256 in sources.yml"
        )
    files_csv = _gunzip(source, files_path)
    if hashlib.sha256(files_csv).hexdigest() != source.files_csv_sha256:
        raise TableError(f"{source.slug}: {files_path.name} does not match files_csv_sha256")
    rows = parse_rows(text)
    if len(rows) != source.images:
        raise TableError(
            f"{source.slug}: upstream table has {len(rows)} rows, expected {source.images}"
        )
    return Table(rows, files_csv)


def parse_rows(text: bytes) -> list[Row]:
    """Rows of an upstream.csv text (RFC 4180, UTF-8, header line first)."""
    reader = csv.DictReader(io.StringIO(text.decode("utf-8"), newline=""))
    if tuple(reader.fieldnames or ()) != COLUMNS:
        raise TableError(f"upstream table columns are {reader.fieldnames}, expected {COLUMNS}")
    return [Row(**{column: entry[column] for column in COLUMNS}) for entry in reader]


def _gunzip(source: Source, path: Path) -> bytes:
    try:
        return gzip.decompress(path.read_bytes())
    except FileNotFoundError as error:
        raise TableError(f"{source.slug}: no upstream table at {path}") from error
    except (OSError, EOFError) as error:
        raise TableError(f"{source.slug}: {path.name} is not a readable gzip file") from error
