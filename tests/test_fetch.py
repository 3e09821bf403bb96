"""Fetching sources into data/raw: mirror copies, resumable HTTP downloads, safe extraction."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
import stat
import tarfile
import threading
import zipfile
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from PIL import Image

from medcnn.data.fetch import (
    DOWNLOADS,
    MARKER,
    FetchError,
    fetch_source,
    fetch_sources,
    pack_source,
    verify_source_folder,
)
from medcnn.data.sources import Archive, Source
from tests.helpers import write_source

SLUG = "tiny-brain"
FIX = "pass --mirror or set MEDCNN_MIRROR"

# --- fake sources -----------------------------------------------------------------------------


def make_source_folder(root: Path, slug: str = SLUG) -> Source:
    """Write `root/<slug>/` like a mirror folder (two brain JPEGs) and return its Source."""
    images = {f"{slug}_{index}": Image.new("L", (8, 8), color=40 + 100 * index) for index in (0, 1)}
    patients = {stem: f"p{index}" for index, stem in enumerate(images)}
    return write_source(root, slug, "brain", images, patients)


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def leftovers(raw: Path) -> list[str]:
    """Temporary siblings (`.<slug>.partial-*`) still lying in raw/."""
    return sorted(path.name for path in raw.glob(".*.partial-*"))


@pytest.fixture
def mirror(tmp_path: Path) -> Path:
    return tmp_path / "mirror"


@pytest.fixture
def raw(tmp_path: Path) -> Path:
    return tmp_path / "data" / "raw"


@pytest.fixture
def source(mirror: Path) -> Source:
    return make_source_folder(mirror)


# --- a local HTTP server ----------------------------------------------------------------------


class RangeHandler(BaseHTTPRequestHandler):
    """Serves `server.files`; honours `Range: bytes=N-` unless `server.ignore_range`."""

    server: FileServer

    def do_GET(self) -> None:
        server = self.server
        body = server.files.get(self.path)
        requested = self.headers.get("Range")
        server.ranges.append(requested)
        if body is None:
            self.send_error(404)
            return
        start = 0
        if requested and not server.ignore_range:
            start = int(requested.removeprefix("bytes=").removesuffix("-"))
            if start >= len(body):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(body)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        payload = body[start:]
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        cut = server.cut_after.pop(self.path, None)
        self.wfile.write(payload if cut is None else payload[:cut])
        self.close_connection = True

    def log_message(self, *args: object) -> None:
        pass


class FileServer(ThreadingHTTPServer):
    """An HTTP server on 127.0.0.1 that serves bytes from a dict and records Range headers.

    `cut_after[path] = n` makes the next response for `path` stop after n bytes while still
    advertising the full Content-Length.
    """

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), RangeHandler)
        self.files: dict[str, bytes] = {}
        self.cut_after: dict[str, int] = {}
        self.ranges: list[str | None] = []
        self.ignore_range = False

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.server_port}/{name}"

    def publish(self, name: str, data: bytes) -> str:
        self.files[f"/{name}"] = data
        return self.url(name)


@pytest.fixture
def server(request: pytest.FixtureRequest) -> FileServer:
    httpd = FileServer()
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
    )
    thread.start()

    def stop() -> None:
        httpd.shutdown()
        httpd.server_close()
        thread.join()

    request.addfinalizer(stop)
    return httpd


@pytest.fixture
def publish(server: FileServer) -> Callable[[Source, Path], Source]:
    """Serve an archive file and return the source with its `archive` pointing at it."""

    def serve(source: Source, archive: Path) -> Source:
        url = server.publish(archive.name, archive.read_bytes())
        return dataclasses.replace(source, archive=Archive(url, sha256_of(archive)))

    return serve


# --- archive builders -------------------------------------------------------------------------


def nested_tar(folder: Path, out: Path) -> Path:
    """The published form: `pack_source`'s .tar.gz with a single `<slug>/` folder."""
    pack_source(folder, out)
    return out


def flat_zip(folder: Path, out: Path) -> Path:
    """A zip whose root is the source folder itself (files.csv at the top)."""
    with zipfile.ZipFile(out, "w") as bundle:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                bundle.write(path, path.relative_to(folder).as_posix())
    return out


def tar_with(folder: Path, out: Path, extra: tarfile.TarInfo) -> Path:
    """A .tar.gz of the source folder plus one extra (hostile) member."""
    with tarfile.open(out, "w:gz") as bundle:
        bundle.add(folder, arcname=folder.name)
        payload = b"evil\n" if extra.isfile() else b""
        extra.size = len(payload)
        bundle.addfile(extra, io.BytesIO(payload))
    return out


def zip_with(folder: Path, out: Path, extra: zipfile.ZipInfo) -> Path:
    """A zip of the source folder (flat) plus one extra (hostile) member."""
    flat_zip(folder, out)
    with zipfile.ZipFile(out, "a") as bundle:
        bundle.writestr(extra, b"evil\n")
    return out


def tar_member(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, link
    return info


def zip_symlink(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


# --- verification -----------------------------------------------------------------------------


def test_verify_accepts_a_matching_folder_whatever_else_it_holds(
    source: Source, mirror: Path
) -> None:
    folder = mirror / SLUG
    (folder / MARKER).write_text("anything\n")
    (folder / "images" / "brain" / "unlisted.jpg").write_bytes(b"not listed, not checked")
    next(folder.glob("images/brain/*.jpg")).write_bytes(b"contents are not hashed")
    assert verify_source_folder(source, folder) is None
    (folder / "files.csv").write_text((folder / "files.csv").read_text() + "\n")
    with pytest.raises(FetchError, match="files.csv sha256 mismatch"):
        verify_source_folder(source, folder)  # the one byte that is checked: the listing


def more_images_expected(source: Source, folder: Path) -> Source:
    return dataclasses.replace(source, images=3)


def image_deleted(source: Source, folder: Path) -> Source:
    next(folder.glob("images/brain/*.jpg")).unlink()
    return source


def files_csv_deleted(source: Source, folder: Path) -> Source:
    (folder / "files.csv").unlink()
    return source


def other_sha256_expected(source: Source, folder: Path) -> Source:
    return dataclasses.replace(source, files_csv_sha256="ab" * 32)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (more_images_expected, "files.csv lists 2 images, expected 3"),
        (image_deleted, "1 of 2 listed files are missing"),
        (files_csv_deleted, "no files.csv"),
        (other_sha256_expected, "files.csv sha256 mismatch"),
    ],
)
def test_verify_rejects(source: Source, mirror: Path, change, message: str) -> None:
    changed = change(source, mirror / SLUG)
    with pytest.raises(FetchError, match=message) as caught:
        verify_source_folder(changed, mirror / SLUG)
    assert str(caught.value).startswith(f"{SLUG}: ")


# --- from a mirror ----------------------------------------------------------------------------


def test_mirror_copy_verifies_and_marks(source: Source, mirror: Path, raw: Path) -> None:
    assert fetch_source(source, raw, mirror, progress=False) == "copied"
    folder = raw / SLUG
    assert (folder / "files.csv").read_bytes() == (mirror / SLUG / "files.csv").read_bytes()
    assert len(list(folder.glob("images/brain/*.jpg"))) == 2
    assert (folder / "SOURCE.md").is_file()
    assert (folder / MARKER).read_text().strip() == source.files_csv_sha256
    assert leftovers(raw) == []


def test_second_fetch_is_present_without_copying(
    source: Source, mirror: Path, raw: Path, tmp_path: Path
) -> None:
    fetch_source(source, raw, mirror, progress=False)
    empty_mirror = tmp_path / "empty"
    empty_mirror.mkdir()
    assert fetch_source(source, raw, empty_mirror, progress=False) == "present"


def test_tampered_fetched_copy_is_fetched_again(source: Source, mirror: Path, raw: Path) -> None:
    fetch_source(source, raw, mirror, progress=False)
    next((raw / SLUG).glob("images/brain/*.jpg")).unlink()
    assert fetch_source(source, raw, mirror, progress=False) == "copied"
    verify_source_folder(source, raw / SLUG)


def test_altered_mirror_leaves_nothing(source: Source, mirror: Path, raw: Path) -> None:
    with (mirror / SLUG / "files.csv").open("a") as listing:
        listing.write("images/brain/extra.jpg,brain,tumour,MRI,axial,p9,x\n")
    with pytest.raises(FetchError, match=f"{SLUG}: files.csv sha256 mismatch"):
        fetch_source(source, raw, mirror, progress=False)
    assert not (raw / SLUG).exists()
    assert leftovers(raw) == []


def test_good_copy_survives_failed_refetch(source: Source, mirror: Path, raw: Path) -> None:
    fetch_source(source, raw, mirror, progress=False)
    good = (raw / SLUG / "files.csv").read_bytes()
    (raw / SLUG / MARKER).unlink()  # forces a re-fetch
    (mirror / SLUG / "files.csv").write_text("file\n")
    with pytest.raises(FetchError, match="sha256 mismatch"):
        fetch_source(source, raw, mirror, progress=False)
    assert (raw / SLUG / "files.csv").read_bytes() == good
    verify_source_folder(source, raw / SLUG)
    assert leftovers(raw) == []


def test_no_mirror_and_no_archive_is_one_line_and_writes_nothing(
    source: Source, raw: Path, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    for mirror, where in ((None, "no mirror"), (elsewhere, f"not in mirror {elsewhere}")):
        with pytest.raises(FetchError) as caught:
            fetch_source(source, raw, mirror, progress=False)
        message = str(caught.value)
        assert message.startswith(f"{SLUG}: {where}") and "\n" not in message
        assert message.endswith("no archive URL and no upstream table; " + FIX)
        assert not raw.exists()


# --- fetch_sources ----------------------------------------------------------------------------


def test_fetch_sources_defaults_to_config_dirs(
    source: Source, mirror: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEDCNN_MIRROR", str(mirror))
    monkeypatch.setenv("MEDCNN_DATA_DIR", str(tmp_path / "data"))
    assert fetch_sources([source], progress=False) == {SLUG: "copied"}
    assert fetch_sources([source], progress=False) == {SLUG: "present"}
    verify_source_folder(source, tmp_path / "data" / "raw" / SLUG)


def test_fetch_sources_fetches_the_good_and_lists_the_broken(
    source: Source, mirror: Path, raw: Path
) -> None:
    broken = make_source_folder(mirror, "broken-one")
    (mirror / "broken-one" / "files.csv").write_text("file\n")
    with pytest.raises(FetchError) as caught:
        fetch_sources([broken, source], raw, mirror, progress=False)
    lines = str(caught.value).splitlines()
    assert lines[0] == "1 of 2 sources failed to fetch:"
    assert lines[1].startswith("broken-one: files.csv sha256 mismatch")
    assert len(lines) == 2
    verify_source_folder(source, raw / SLUG)
    assert not (raw / "broken-one").exists()


# --- pack_source ------------------------------------------------------------------------------


def test_pack_source_is_reproducible(source: Source, mirror: Path, tmp_path: Path) -> None:
    first = pack_source(mirror / SLUG, tmp_path / "first.tar.gz")
    for path in (mirror / SLUG).rglob("*"):
        os.utime(path, (1_000_000, 1_000_000))
    (mirror / SLUG / MARKER).write_text("ignored\n")
    second = pack_source(mirror / SLUG, tmp_path / "second.tar.gz")
    assert first == second == sha256_of(tmp_path / "first.tar.gz")
    with tarfile.open(tmp_path / "first.tar.gz") as bundle:
        names = bundle.getnames()
        assert all(member.mtime == 0 and member.uid == 0 for member in bundle.getmembers())
    assert names[0] == SLUG
    assert f"{SLUG}/files.csv" in names
    assert f"{SLUG}/{MARKER}" not in names


# --- over HTTP --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "name"), [(nested_tar, "packed.tar.gz"), (flat_zip, "flat.zip")], ids=["tar", "zip"]
)
def test_download_verifies_and_extracts(
    source: Source, mirror: Path, raw: Path, tmp_path: Path, publish, build, name: str
) -> None:
    remote = publish(source, build(mirror / SLUG, tmp_path / name))
    assert fetch_source(remote, raw, progress=False) == "downloaded"
    verify_source_folder(source, raw / SLUG)
    assert (raw / SLUG / MARKER).is_file()
    assert list((raw / DOWNLOADS).iterdir()) == []
    assert leftovers(raw) == []
    assert fetch_source(remote, raw, progress=False) == "present"


@pytest.fixture
def packed(source: Source, mirror: Path, tmp_path: Path) -> Path:
    return nested_tar(mirror / SLUG, tmp_path / f"{SLUG}.tar.gz")


def test_wrong_archive_sha256(source: Source, raw: Path, packed: Path, publish) -> None:
    remote = publish(source, packed)
    remote = dataclasses.replace(remote, archive=Archive(remote.archive.url, "0" * 64))
    with pytest.raises(FetchError, match=f"{SLUG}: archive sha256 mismatch"):
        fetch_source(remote, raw, progress=False)
    assert not (raw / SLUG).exists()
    assert list((raw / DOWNLOADS).iterdir()) == []  # the bad bytes are not kept to resume


def test_truncated_download_resumes(
    source: Source, raw: Path, packed: Path, publish, server: FileServer
) -> None:
    remote = publish(source, packed)
    size = packed.stat().st_size
    server.cut_after[f"/{packed.name}"] = 100
    with pytest.raises(FetchError, match=f"truncated download \\(got 100 of {size} bytes\\)"):
        fetch_source(remote, raw, progress=False)
    part = raw / DOWNLOADS / f"{SLUG}.tar.gz.part"
    assert part.stat().st_size == 100
    assert not (raw / SLUG).exists()

    assert fetch_source(remote, raw, progress=False) == "downloaded"
    assert server.ranges[-1] == "bytes=100-"
    verify_source_folder(source, raw / SLUG)
    assert not part.exists()


def test_server_ignoring_range_restarts(
    source: Source, raw: Path, packed: Path, publish, server: FileServer
) -> None:
    remote = publish(source, packed)
    part = raw / DOWNLOADS / f"{SLUG}.tar.gz.part"
    part.parent.mkdir(parents=True)
    stale = b"stale bytes from some other file"
    part.write_bytes(stale)
    server.ignore_range = True
    assert fetch_source(remote, raw, progress=False) == "downloaded"
    assert server.ranges == [f"bytes={len(stale)}-"]
    verify_source_folder(source, raw / SLUG)


def test_complete_part_is_answered_416(
    source: Source, raw: Path, packed: Path, publish, server: FileServer
) -> None:
    remote = publish(source, packed)
    part = raw / DOWNLOADS / f"{SLUG}.tar.gz.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(packed.read_bytes())
    assert fetch_source(remote, raw, progress=False) == "downloaded"
    assert server.ranges == [f"bytes={packed.stat().st_size}-"]


def test_http_error_names_the_source(source: Source, raw: Path, server: FileServer) -> None:
    missing = dataclasses.replace(source, archive=Archive(server.url("gone.tar.gz"), "0" * 64))
    with pytest.raises(FetchError, match=f"{SLUG}: HTTP 404"):
        fetch_source(missing, raw, progress=False)


HOSTILE_MEMBERS = {
    "tar-dotdot": lambda tmp: tar_member("../evil.txt"),
    "tar-deep-dotdot": lambda tmp: tar_member(f"{SLUG}/images/../../../../evil.txt"),
    "tar-absolute": lambda tmp: tar_member(str(tmp / "evil.txt")),
    "tar-symlink": lambda tmp: tar_member(f"{SLUG}/link", tarfile.SYMTYPE, "/etc/passwd"),
    "tar-hardlink": lambda tmp: tar_member(f"{SLUG}/link", tarfile.LNKTYPE, "/etc/passwd"),
    "tar-device": lambda tmp: tar_member(f"{SLUG}/null", tarfile.CHRTYPE),
    "zip-absolute": lambda tmp: zipfile.ZipInfo(str(tmp / "evil.txt")),
    "zip-dotdot": lambda tmp: zipfile.ZipInfo("../evil.txt"),
    "zip-symlink": lambda tmp: zip_symlink("link"),
}
"""Hostile members (built from tmp_path) slipped into an otherwise valid archive."""


@pytest.mark.parametrize("member", HOSTILE_MEMBERS.values(), ids=HOSTILE_MEMBERS.keys())
def test_unsafe_archive_is_refused(
    source: Source, mirror: Path, raw: Path, tmp_path: Path, publish, member
) -> None:
    extra = member(tmp_path)
    if isinstance(extra, zipfile.ZipInfo):
        archive = zip_with(mirror / SLUG, tmp_path / "evil.zip", extra)
    else:
        archive = tar_with(mirror / SLUG, tmp_path / "evil.tar.gz", extra)
    remote = publish(source, archive)
    with pytest.raises(FetchError, match=f"{SLUG}: unsafe archive member"):
        fetch_source(remote, raw, progress=False)
    assert not (raw / SLUG).exists()
    assert leftovers(raw) == []
    assert list(tmp_path.rglob("evil.txt")) == []
