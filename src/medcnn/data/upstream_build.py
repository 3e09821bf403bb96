"""Rebuild a source's images from their upstream originals, resumably.

Rows are grouped by repository and commit, then by original (several rows can share one);
each original is fetched once, verified, and turned into every image that uses it by
`transforms.rebuild`. A rebuilt image whose dhash256 is within `MAX_DISTANCE` of its row's goes
to `raw/.upstream/<slug>-<table>/`, written atomically, so an interrupted run continues where it
stopped. A row that fails is reported with its reason and does not stop the others.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from medcnn.data.decoders import DecodeError
from medcnn.data.dhash import MAX_DISTANCE, dhash256, distance
from medcnn.data.sources import Source
from medcnn.data.transforms import TransformError, rebuild
from medcnn.data.upstream import Fetcher, OriginalError
from medcnn.data.upstream_table import Row, Table
from medcnn.io import write_atomic

WORK = ".upstream"
"""Folder under `raw/` that keeps rebuilt, verified images until their source is installed."""

WORKERS = 8
"""Originals fetched and rebuilt at the same time."""


@dataclass
class Outcome:
    """The rows asked for, the files rebuilt (in row order) and the failures (file, reason)."""

    rows: int
    built: list[str]
    failures: list[tuple[str, str]]
    folder: Path


def work_folder(source: Source, raw: Path) -> Path:
    return Path(raw) / WORK / f"{source.slug}-{(source.upstream_csv_sha256 or '')[:12]}"


def rebuild_rows(
    source: Source,
    table: Table,
    raw: Path,
    fetcher: Fetcher,
    limit: int | None = None,
    progress: bool = True,
) -> Outcome:
    """Rebuild the first `limit` rows (all by default) of `source` into its work folder."""
    rows = table.rows[:limit] if limit is not None else table.rows
    folder = work_folder(source, raw)
    pending = [row for row in rows if not (folder / row.file).is_file()]
    failures: dict[str, str] = {}
    with (
        tqdm(
            total=len(rows),
            initial=len(rows) - len(pending),
            desc=source.slug,
            unit="file",
            disable=not progress,
        ) as bar,
        _pool() as pool,
    ):
        futures = {
            pool.submit(_rebuild_group, fetcher, group, folder): group for group in _groups(pending)
        }
        for future in as_completed(futures):
            failures.update(future.result())
            bar.update(len(futures[future]))
    built = [row.file for row in rows if (folder / row.file).is_file()]
    ordered = [(row.file, failures[row.file]) for row in rows if row.file in failures]
    return Outcome(len(rows), built, ordered, folder)


def _groups(rows: list[Row]) -> list[list[Row]]:
    """Rows sharing an original, grouped by repository and commit first."""
    groups: dict[tuple[str, str, str], list[Row]] = {}
    for row in sorted(rows, key=lambda r: (r.repository, r.commit)):
        groups.setdefault((row.repository, row.commit, row.original_path), []).append(row)
    return list(groups.values())


def _rebuild_group(fetcher: Fetcher, rows: list[Row], folder: Path) -> dict[str, str]:
    """Fetch the rows' shared original once and rebuild each row; returns {file: reason}."""
    try:
        original = fetcher.original(rows[0])
    except OriginalError as error:
        return {row.file: str(error) for row in rows}
    failures = {}
    cache: dict = {}
    for row in rows:
        try:
            image = rebuild(row.transform, original, cache)
        except (TransformError, DecodeError, OSError) as error:
            failures[row.file] = f"cannot rebuild: {error}"
            continue
        gap = distance(dhash256(image), row.dhash256)
        if gap > MAX_DISTANCE:
            failures[row.file] = (
                f"rebuilt image differs from its dhash256 ({gap} bits > {MAX_DISTANCE})"
            )
            continue
        write_atomic(folder / row.file, image)
    return failures


@contextmanager
def _pool() -> Iterator[ThreadPoolExecutor]:
    """A thread pool that drops its queued work when the run is interrupted."""
    pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="upstream")
    try:
        yield pool
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def install_rows(outcome: Outcome, table: Table, target: Path) -> None:
    """Fill `target` with the rebuilt images and a files.csv listing exactly them."""
    target.mkdir(parents=True)
    for name in outcome.built:
        copy = target / name
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(outcome.folder / name, copy)
    (target / "files.csv").write_bytes(table.listing(set(outcome.built)))
