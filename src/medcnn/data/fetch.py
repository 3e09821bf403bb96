"""Put each image source into `data/raw/<slug>/`: from a local mirror, a verified HTTP archive,
or rebuilt from its public originals upstream.

A fetch never leaves a half-written folder: the source is assembled in a temporary sibling
(`raw/.<slug>.partial-XXXX`), checked against the `files.csv` sha256 and image count recorded in
`sources.yml`, and only then renamed into place; on any error the sibling is removed and an
earlier good copy stays as it was. A verified folder carries a `.fetched` marker, so fetching
again is cheap, and an interrupted download resumes from `raw/.downloads/<slug>.<ext>.part`
(an interrupted upstream rebuild from `raw/.upstream/`).

Upstream mode is used when asked for, or when a source has neither a mirror copy nor an
archive. A source rebuilt from part of its rows (a row's original gone, a `--limit`) lists
only those rows in its files.csv and carries no marker, so the next fetch tries again; the
failed rows go to a report (file, reason), and more than `MAX_MISSING_SHARE` of a source
missing is an error naming it.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import os
import posixpath
import shutil
import stat
import sys
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from http.client import HTTPException
from pathlib import Path, PurePosixPath, PureWindowsPath
from urllib.error import HTTPError
from urllib.parse import urlsplit
from urllib.request import Request, urlopen

from tqdm import tqdm

from medcnn.config import MIRROR_ENV, UPSTREAM_URL_ENV, mirror_dir, processed_dir, raw_dir
from medcnn.data.sources import Archive, Source
from medcnn.data.upstream import Fetcher, Origins
from medcnn.io import write_atomic

MARKER = ".fetched"
"""File in a fetched source folder that holds the verified `files.csv` sha256."""

DOWNLOADS = ".downloads"
"""Folder under `raw/` for archives being downloaded (`<slug>.<ext>.part` until verified)."""

ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar", ".zip")

TIMEOUT = 60.0
"""Seconds an HTTP connection may stall before the download fails (a later run resumes it)."""

CHUNK = 1 << 20

MAX_MISSING_SHARE = 0.05
"""Largest share of a source's rows (those asked for) that may fail upstream; more is an error."""

REPORT = "upstream_failures.csv"
"""Rows that could not be rebuilt upstream (source, file, reason), beside `build_report.json`."""


class FetchError(RuntimeError):
    """A source could not be fetched or did not verify; the message names the source."""


def fetch_sources(
    sources: list[Source],
    raw: Path | None = None,
    mirror: Path | None = None,
    progress: bool = True,
    upstream: bool = False,
    limit: int | None = None,
    origins: Origins | None = None,
    report: Path | None = None,
) -> dict[str, str]:
    """Fetch every source; returns {slug: how}: "present", "copied", "downloaded", "rebuilt"
    (upstream, in full) or "partial" (upstream, some rows).

    `raw` defaults to `config.raw_dir()` and `mirror` to `config.mirror_dir()` (`MEDCNN_MIRROR`).
    `upstream` (or `limit`, the rows per source to rebuild) rebuilds from the originals even
    where a mirror or an archive exists; `origins` says where originals come from. Rows that
    failed upstream are written to `report` (default `processed/upstream_failures.csv`). One
    broken source does not stop the others: everything that can be fetched is, then a single
    FetchError lists the failures, one line per source.
    """
    raw = Path(raw) if raw is not None else raw_dir()
    mirror = mirror if mirror is not None else mirror_dir()
    fetcher = Fetcher(origins or Origins(), raw / DOWNLOADS / "wheels")
    outcomes: dict[str, str] = {}
    failures: list[str] = []
    rows: dict[str, list[tuple[str, str]]] = {}
    for source in sources:
        try:
            outcomes[source.slug] = fetch_source(
                source, raw, mirror, progress, upstream or limit is not None, limit, fetcher, rows
            )
        except FetchError as error:
            failures.append(str(error))
    report = Path(report) if report else processed_dir() / REPORT
    if rows:
        _write_report(report, rows)
    if failures:
        summary = f"{len(failures)} of {len(sources)} sources failed to fetch:"
        listed = [f"rows that failed upstream are listed in {report}"] if any(rows.values()) else []
        raise FetchError("\n".join([summary, *failures, *listed]))
    return outcomes


def fetch_source(
    source: Source,
    raw: Path,
    mirror: Path | None = None,
    progress: bool = True,
    upstream: bool = False,
    limit: int | None = None,
    fetcher: Fetcher | None = None,
    failed_rows: dict[str, list[tuple[str, str]]] | None = None,
) -> str:
    """Fetch one source into `raw/<slug>/`; returns how (see `fetch_sources`).

    A marked folder that still verifies is kept as it is. Otherwise the source is copied from
    `mirror/<slug>/` when the mirror holds it, else downloaded from `source.archive`, else (or
    when `upstream`) rebuilt from its originals; failed rows are added to `failed_rows`.
    """
    raw = Path(raw)
    if _is_fetched(source, raw / source.slug):
        return "present"
    in_mirror = mirror is not None and (Path(mirror) / source.slug).is_dir()
    if not (upstream or in_mirror or source.archive or source.upstream_table):
        where = f"not in mirror {mirror}" if mirror is not None else "no mirror"
        raise FetchError(
            f"{source.slug}: {where}, no archive URL and no upstream table; "
            f"pass --mirror or set {MIRROR_ENV}"
        )
    try:
        if not upstream and in_mirror:
            _copy_from_mirror(source, raw, Path(mirror), progress)
            return "copied"
        if not upstream and source.archive is not None:
            _download_and_unpack(source, source.archive, raw, progress)
            return "downloaded"
        fetcher = fetcher or Fetcher(Origins(), raw / DOWNLOADS / "wheels")
        return _rebuild_upstream(source, raw, fetcher, limit, progress, failed_rows)
    except OSError as error:
        raise FetchError(f"{source.slug}: {error}") from error


def download(url: str, dest: Path, sha256: str, progress: bool = True) -> Path:
    """Download `url` to `dest`, resumably, and check its sha256; returns `dest`.

    Bytes go to `dest.part` first; a later call continues it with an HTTP Range request. The
    `.part` becomes `dest` only once its sha256 matches (on a mismatch it is deleted, so the
    next call starts afresh). A `dest` that already matches is returned without a request.
    """
    dest = Path(dest)
    if urlsplit(url).scheme not in ("http", "https"):
        raise FetchError(f"cannot download {url}: only http and https URLs are supported")
    if dest.is_file() and _sha256(dest) == sha256.lower():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    _receive(url, part, progress)
    actual = _sha256(part)
    if actual != sha256.lower():
        part.unlink()
        raise FetchError(
            f"archive sha256 mismatch (expected {_short(sha256)}, got {_short(actual)})"
        )
    part.replace(dest)
    return dest


def extract_archive(archive: Path, target: Path) -> None:
    """Unpack a .tar.gz, .tgz, .tar or .zip file into `target`, which must not exist yet.

    Every member is checked before anything is written: an absolute path, a path that climbs
    out of `target`, a link or a device file raises FetchError and `target` is not created.
    If unpacking fails part-way, `target` is removed again.
    """
    archive, target = Path(archive), Path(target)
    if target.exists():
        raise FileExistsError(f"{target} already exists")
    try:
        _unpack(archive, target)
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise


def verify_source_folder(source: Source, folder: Path) -> None:
    """Check `folder` against `source`: files.csv sha256, its row count, every listed file.

    Raises FetchError naming the source and the first problem found. Image contents are not
    hashed, which keeps the check cheap enough to repeat on every fetch.
    """
    folder = Path(folder)
    listing = folder / "files.csv"
    if not listing.is_file():
        raise FetchError(f"{source.slug}: no files.csv in {folder}")
    actual = _sha256(listing)
    if actual != source.files_csv_sha256.lower():
        raise FetchError(
            f"{source.slug}: files.csv sha256 mismatch "
            f"(expected {_short(source.files_csv_sha256)}, got {_short(actual)})"
        )
    with listing.open(newline="", encoding="utf-8") as handle:
        files = [row["file"] for row in csv.DictReader(handle)]
    if len(files) != source.images:
        raise FetchError(
            f"{source.slug}: files.csv lists {len(files)} images, expected {source.images}"
        )
    missing = [name for name in files if not (folder / name).is_file()]
    if missing:
        raise FetchError(
            f"{source.slug}: {len(missing)} of {len(files)} listed files are missing "
            f"(first: {missing[0]})"
        )


def _verify_listed(source: Source, folder: Path) -> None:
    """Every file that `folder/files.csv` lists is there (a source rebuilt in part)."""
    with (folder / "files.csv").open(newline="", encoding="utf-8") as handle:
        missing = [
            row["file"] for row in csv.DictReader(handle) if not (folder / row["file"]).is_file()
        ]
    if missing:
        raise FetchError(
            f"{source.slug}: {len(missing)} listed files are missing (first: {missing[0]})"
        )


def pack_source(folder: Path, out: Path) -> str:
    """Write `folder` as a reproducible .tar.gz of one `<folder name>/`; returns its sha256.

    Members are sorted and carry mtime 0, uid/gid 0, no owner names and modes 0644/0755; the
    gzip header has mtime 0 and no file name. Equal folders thus give byte-identical archives
    (with the same zlib), fit to publish as a source's `archive`. The `.fetched` marker is
    left out.
    """
    folder, out = Path(folder).resolve(), Path(out)
    partial = out.with_name(out.name + ".part")
    with (
        partial.open("wb") as stream,
        gzip.GzipFile(filename="", mode="wb", fileobj=stream, mtime=0) as compressed,
        tarfile.open(fileobj=compressed, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for path in [folder, *sorted(folder.rglob("*"))]:
            relative = path.relative_to(folder)
            if relative == Path(MARKER):
                continue
            info = tarfile.TarInfo("/".join((folder.name, *relative.parts)))
            if path.is_dir():
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            elif path.is_file():
                info.size, info.mode = path.stat().st_size, 0o644
                with path.open("rb") as handle:
                    tar.addfile(info, handle)
    partial.replace(out)
    return _sha256(out)


def _is_fetched(source: Source, folder: Path) -> bool:
    """True when `folder` has a marker for the recorded files.csv and still verifies."""
    try:
        if (folder / MARKER).read_text().strip() != source.files_csv_sha256:
            return False
        verify_source_folder(source, folder)
    except (OSError, FetchError):
        return False
    return True


def _copy_from_mirror(source: Source, raw: Path, mirror: Path, progress: bool) -> None:
    origin = mirror / source.slug
    if not origin.is_dir():
        raise FetchError(f"{source.slug}: not in mirror {mirror}")
    files = sorted(path for path in origin.rglob("*") if path.is_file())
    with _staged(source, raw) as folder:
        for path in tqdm(files, desc=source.slug, unit="file", disable=not _shown(progress)):
            copy = folder / path.relative_to(origin)
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, copy)


def _download_and_unpack(source: Source, archive: Archive, raw: Path, progress: bool) -> None:
    with _prefixed(source.slug):
        suffix = _archive_suffix(PurePosixPath(urlsplit(archive.url).path).name)
        dest = download(
            archive.url, raw / DOWNLOADS / f"{source.slug}{suffix}", archive.sha256, progress
        )
    with _staged(source, raw) as folder:
        unpacked = folder.with_name(".unpacked")
        with _prefixed(source.slug):
            extract_archive(dest, unpacked)
        _source_root(source, unpacked).rename(folder)
    dest.unlink()


def _rebuild_upstream(
    source: Source,
    raw: Path,
    fetcher: Fetcher,
    limit: int | None,
    progress: bool,
    failed_rows: dict[str, list[tuple[str, str]]] | None,
) -> str:
    """Rebuild the source (its first `limit` rows) upstream and install what was rebuilt."""
    from medcnn.data.upstream_build import install_rows, rebuild_rows
    from medcnn.data.upstream_table import TableError, load_table

    try:
        table = load_table(source)
    except TableError as error:
        raise FetchError(str(error)) from error
    outcome = rebuild_rows(source, table, raw, fetcher, limit, _shown(progress))
    if failed_rows is not None:
        failed_rows[source.slug] = outcome.failures
    missing = len(outcome.failures)
    if missing > MAX_MISSING_SHARE * outcome.rows or not outcome.built:
        first = outcome.failures[0][1] if outcome.failures else "no rows"
        raise FetchError(
            f"{source.slug}: {missing} of {outcome.rows} images could not be rebuilt upstream "
            f"(first: {first}); to provide the data, pass --mirror or set {MIRROR_ENV} to a "
            f"local mirror, or set {UPSTREAM_URL_ENV} to a reachable copy of the originals"
        )
    complete = len(outcome.built) == source.images
    with _staged(source, raw, complete) as folder:
        install_rows(outcome, table, folder)
    if complete:
        shutil.rmtree(outcome.folder, ignore_errors=True)
        return "rebuilt"
    return "partial"


def _write_report(path: Path, failed: dict[str, list[tuple[str, str]]]) -> None:
    """Replace the report's rows of the sources in `failed`, keeping those of other sources."""
    kept = []
    if path.is_file():
        with path.open(newline="", encoding="utf-8") as handle:
            kept = [row for row in csv.DictReader(handle) if row["source"] not in failed]
    rows = kept + [
        {"source": slug, "file": name, "reason": reason}
        for slug, entries in failed.items()
        for name, reason in entries
    ]
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, ("source", "file", "reason"), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_atomic(path, text.getvalue().encode("utf-8"))


@contextmanager
def _staged(source: Source, raw: Path, complete: bool = True) -> Iterator[Path]:
    """Yield a path in a fresh temporary sibling of `raw/<slug>` for the block to fill.

    After the block, the folder is verified (fully and marked when `complete`, else only that
    each listed file is there) and moved to `raw/<slug>` (a previous copy is replaced only
    then); whatever happens, the temporary sibling is removed.
    """
    raw.mkdir(parents=True, exist_ok=True)
    for stale in raw.glob(f".{source.slug}.partial-*"):  # left by a run that was killed
        shutil.rmtree(stale, ignore_errors=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{source.slug}.partial-", dir=raw))
    try:
        folder = staging / source.slug
        yield folder
        if complete:
            verify_source_folder(source, folder)
            (folder / MARKER).write_text(f"{source.files_csv_sha256}\n")
        else:
            _verify_listed(source, folder)
        _move_into_place(folder, raw / source.slug, staging / ".previous")
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _move_into_place(folder: Path, target: Path, parking: Path) -> None:
    """Rename `folder` to `target`, parking an existing `target` (restored if the rename fails)."""
    replacing = os.path.lexists(target)
    if replacing:
        target.rename(parking)
    try:
        folder.rename(target)
    except OSError:
        if replacing:
            parking.rename(target)
        raise


@contextmanager
def _prefixed(slug: str) -> Iterator[None]:
    """Re-raise a FetchError from a slug-agnostic helper with the slug in front."""
    try:
        yield
    except FetchError as error:
        raise FetchError(f"{slug}: {error}") from error


def _source_root(source: Source, unpacked: Path) -> Path:
    """The folder holding files.csv: the archive root itself, or its single `<slug>/` folder."""
    if (unpacked / "files.csv").is_file():
        return unpacked
    entries = list(unpacked.iterdir())
    if len(entries) == 1 and entries[0].name == source.slug and entries[0].is_dir():
        return entries[0]
    raise FetchError(
        f"{source.slug}: archive holds neither files.csv nor a single {source.slug}/ folder"
    )


def _receive(url: str, part: Path, progress: bool) -> None:
    """Fetch `url` into `part`, continuing after the bytes already there when the server allows."""
    offset = part.stat().st_size if part.exists() else 0
    request = Request(url, headers={"Range": f"bytes={offset}-"} if offset else {})
    try:
        with urlopen(request, timeout=TIMEOUT) as response:
            if response.status != 206:  # the whole file, not the rest of it: start again
                offset = 0
            length = response.headers.get("Content-Length")
            total = offset + int(length) if length is not None else None
            with (
                part.open("ab" if offset else "wb") as out,
                tqdm(
                    total=total,
                    initial=offset,
                    desc=part.name.removesuffix(".part"),
                    unit="B",
                    unit_scale=True,
                    unit_divisor=1024,
                    disable=not _shown(progress),
                ) as bar,
            ):
                while chunk := response.read(CHUNK):
                    out.write(chunk)
                    bar.update(len(chunk))
    except HTTPError as error:
        if error.code == 416 and offset:  # nothing after `offset`: the .part is already whole
            return
        raise FetchError(f"HTTP {error.code} {error.reason} from {url}") from error
    except (OSError, HTTPException) as error:
        reason = getattr(error, "reason", error)
        raise FetchError(f"download from {url} failed ({reason}); run again to resume") from error
    received = part.stat().st_size
    if total is not None and received < total:
        raise FetchError(
            f"truncated download (got {received} of {total} bytes); run again to resume"
        )


def _unpack(archive: Path, target: Path) -> None:
    """Check every member of `archive`, then create `target` and extract into it."""
    try:
        if _archive_suffix(archive.name) == ".zip":
            with zipfile.ZipFile(archive) as bundle:
                for info in bundle.infolist():
                    _refuse_unsafe(info.filename, _zip_problem(info))
                target.mkdir(parents=True)
                bundle.extractall(target)
        else:
            with tarfile.open(archive) as bundle:
                for member in bundle.getmembers():
                    _refuse_unsafe(member.name, _tar_problem(member))
                target.mkdir(parents=True)
                bundle.extractall(target, filter="data")
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error) as error:
        raise FetchError(f"cannot read archive {archive.name} ({error})") from error


def _refuse_unsafe(name: str, problem: str | None) -> None:
    if problem:
        raise FetchError(f"unsafe archive member {name!r} ({problem})")


def _tar_problem(member: tarfile.TarInfo) -> str | None:
    if member.issym():
        return "symbolic link"
    if member.islnk():
        return "hard link"
    if not (member.isfile() or member.isdir()):
        return "device or special file"
    return _path_problem(member.name)


def _zip_problem(info: zipfile.ZipInfo) -> str | None:
    if stat.S_ISLNK(info.external_attr >> 16):
        return "symbolic link"
    return _path_problem(info.filename)


def _path_problem(name: str) -> str | None:
    path = name.replace("\\", "/")
    if path.startswith("/") or PureWindowsPath(path).drive:
        return "absolute path"
    normal = posixpath.normpath(path)
    if normal == ".." or normal.startswith("../"):
        return "escapes the target folder"
    return None


def _archive_suffix(name: str) -> str:
    for suffix in ARCHIVE_SUFFIXES:
        if name.lower().endswith(suffix):
            return suffix
    raise FetchError(f"{name!r} is not a {', '.join(ARCHIVE_SUFFIXES)} archive")


def _sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _short(digest: str) -> str:
    return f"{digest[:12]}…"


def _shown(progress: bool) -> bool:
    """Progress bars only when asked for and stderr (where tqdm writes) is a terminal."""
    return progress and sys.stderr.isatty()
