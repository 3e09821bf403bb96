"""Rebuilding sources from their upstream originals, served by a local HTTP server.

The sample originals in `../shared/data/upstream-samples` must rebuild byte for byte into the
mirror's images; the kinds without shipped originals (a DICOM series, volume-scaled HDF5 and
NIfTI, BMP) are checked on small originals written here; failures (sha256 mismatch, 404,
truncated download, corrupt original, unknown step) are reported per row.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import threading
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import numpy as np
import pytest
from PIL import Image

from medcnn.cli import main
from medcnn.config import project_root
from medcnn.data import upstream_build
from medcnn.data.dhash import dhash256
from medcnn.data.fetch import MARKER, REPORT, FetchError, fetch_sources, verify_source_folder
from medcnn.data.sources import Source, load_sources
from medcnn.data.transforms import TransformError, parse, rebuild
from medcnn.data.upstream import Origins
from medcnn.data.upstream_table import COLUMNS, load_table

SHARED = project_root().parent / "shared" / "data"
SAMPLES = SHARED / "upstream-samples"
MIRROR = SHARED / "sources"
REPO = "example/originals"
COMMIT = "c" * 40
HEADER = "file,label,subtype,modality,view,patient_id,original_path\n"

# --- a local server for originals, folder listings and wheels -----------------------------------


class OriginHandler(BaseHTTPRequestHandler):
    server: OriginServer

    def do_GET(self) -> None:
        path = unquote(urlsplit(self.path).path)
        self.server.requests.append(path)
        body = self.server.files.get(path)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[: len(body) // 2] if path in self.server.truncate else body)
        self.close_connection = True

    def log_message(self, *args: object) -> None:
        pass


class OriginServer(ThreadingHTTPServer):
    """Serves `/gh/<repository>/<commit>/<path>`, `/list/...` (JSON) and `/simple/` wheels."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), OriginHandler)
        self.files: dict[str, bytes] = {}
        self.truncate: set[str] = set()
        self.requests: list[str] = []
        self.base = f"http://127.0.0.1:{self.server_port}"

    def origins(self) -> Origins:
        return Origins(
            url=self.base + "/gh/{repository}/{commit}/{path}",
            listing=self.base + "/list/{repository}/{commit}/{path}",
            index=self.base + "/simple",
            retries=1,
            backoff=0.0,
        )

    def add(self, repository: str, commit: str, path: str, data: bytes) -> str:
        key = f"/gh/{repository}/{commit}/{path}"
        self.files[key] = data
        folder, _, name = path.rpartition("/")
        listing = f"/list/{repository}/{commit}/{folder}"
        names = json.loads(self.files.get(listing, b"[]"))
        self.files[listing] = json.dumps([*names, {"name": name, "type": "file"}]).encode()
        return key

    def add_wheel(self, package: str, version: str, members: dict[str, bytes]) -> None:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as wheel:
            for name, data in members.items():
                wheel.writestr(name, data)
        data = buffer.getvalue()
        filename = f"{package.replace('-', '_')}-{version}-py3-none-any.whl"
        self.files[f"/wheels/{filename}"] = data
        digest = hashlib.sha256(data).hexdigest()
        link = f'<a href="{self.base}/wheels/{filename}#sha256={digest}">{filename}</a>'
        self.files[f"/simple/{package}/"] = f"<html><body>{link}</body></html>".encode()


@pytest.fixture
def server(request: pytest.FixtureRequest) -> Iterator[OriginServer]:
    httpd = OriginServer()
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.01})
    thread.daemon = True
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join()


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data folder for test sources' upstream tables (MEDCNN_DATA_DIR)."""
    monkeypatch.setenv("MEDCNN_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


# --- test sources -----------------------------------------------------------------------------


def gz(text: str) -> bytes:
    return gzip.compress(text.encode("utf-8"), mtime=0)


def write_source(data: Path, slug: str, rows: list[dict], listing: str | None = None) -> Source:
    """Commit an upstream table (and files.csv) for `rows` under `data/upstream/`."""
    text = io.StringIO(newline="")
    writer = csv.DictWriter(
        text,
        list(COLUMNS),
        lineterminator="\n",
    )
    writer.writeheader()
    writer.writerows(rows)
    if listing is None:
        listing = HEADER + "".join(
            f"{r['file']},other,x,photo,unknown,,{r['file']}\n" for r in rows
        )
    (data / "upstream").mkdir(parents=True, exist_ok=True)
    (data / "upstream" / f"{slug}.csv.gz").write_bytes(gz(text.getvalue()))
    (data / "upstream" / f"{slug}.files.csv.gz").write_bytes(gz(listing))
    return Source(
        slug=slug,
        label="other",
        title=slug,
        upstream="https://example.org",
        repository=REPO,
        commit=COMMIT,
        licence="CC0",
        citation="none",
        bibkey=slug,
        images=len(rows),
        files_csv_sha256=hashlib.sha256(listing.encode()).hexdigest(),
        patient_namespace=slug,
        upstream_table=f"upstream/{slug}.csv.gz",
        upstream_csv_sha256=hashlib.sha256(text.getvalue().encode()).hexdigest(),
    )


def png(seed: int, size: tuple[int, int] = (40, 30)) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1] // 5, size[0] // 5), np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).resize(size, Image.Resampling.BICUBIC).save(buffer, "PNG")
    return buffer.getvalue()


def row(name: str, path: str, original: bytes, transform: str, image: bytes | None = None) -> dict:
    """An upstream row; its dhash256 is that of `image` (default: what the transform makes)."""
    return {
        "file": f"images/other/{name}.jpg",
        "repository": REPO,
        "commit": COMMIT,
        "original_path": path,
        "original_sha256": hashlib.sha256(original).hexdigest(),
        "transform": transform,
        "dhash256": dhash256(image or rebuild(transform, original)),
    }


def grey_rows(server: OriginServer | None, count: int, first: int = 0) -> list[dict]:
    """`count` grey PNG originals (served unless `server` is None) and their rows."""
    rows = []
    for index in range(first, first + count):
        original = png(index)
        path = f"scans/{index:03d} a&b.png"
        if server is not None:
            server.add(REPO, COMMIT, path, original)
        rows.append(row(f"img_{index:03d}", path, original, "raster;gray;resize=20x15;jpeg=opt"))
    return rows


def fetch(server: OriginServer, sources: list[Source], data: Path, **options) -> dict[str, str]:
    return fetch_sources(
        sources,
        data / "raw",
        None,
        progress=False,
        upstream=True,
        origins=server.origins(),
        **options,
    )


def report_rows(data: Path) -> list[dict]:
    with (data / "processed" / REPORT).open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def leftovers(raw: Path) -> list[str]:
    return sorted(path.name for path in raw.glob(".*.partial-*"))


# --- every sample original rebuilds into the mirror's file --------------------------------------


def sample_rows() -> dict[str, list[dict]]:
    """The rows of `upstream-samples/index.csv` by source, in their upstream.csv order."""
    with (SAMPLES / "index.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    by_source: dict[str, list[dict]] = {}
    for entry in rows:
        by_source.setdefault(entry.pop("source"), []).append(entry)
    return by_source


def serve_samples(server: OriginServer) -> None:
    """Every sample original: GitHub files (and folder listings) and wheels built from them."""
    for top in SAMPLES.iterdir():
        if not top.is_dir():
            continue
        if top.name.startswith("pypi+"):
            package, version = top.name.removeprefix("pypi+").split("==")
            members = {
                p.relative_to(top).as_posix(): p.read_bytes() for p in top.rglob("*") if p.is_file()
            }
            server.add_wheel(package, version, members)
            continue
        repository = top.name.replace("+", "/", 1)
        for commit in top.iterdir():
            for path in sorted(commit.rglob("*")):
                if path.is_file():
                    server.add(
                        repository,
                        commit.name,
                        path.relative_to(commit).as_posix(),
                        path.read_bytes(),
                    )


needs_samples = pytest.mark.skipif(
    not (SAMPLES / "index.csv").is_file() or not MIRROR.is_dir(),
    reason="no upstream samples and mirror beside the checkout (../shared/data)",
)


@pytest.mark.mirror
@needs_samples
def test_every_sample_rebuilds_byte_identical(server: OriginServer, data: Path) -> None:
    serve_samples(server)
    sources = []
    for slug, rows in sample_rows().items():
        files = {r["file"] for r in rows}
        lines = (MIRROR / slug / "files.csv").read_text(encoding="utf-8").splitlines(keepends=True)
        listing = lines[0] + "".join(
            line for line in lines[1:] if next(csv.reader([line]))[0] in files
        )
        order = [r.file for r in load_table(_real(slug), project_root() / "data").rows]
        rows.sort(key=lambda r: order.index(r["file"]))
        sources.append(write_source(data, slug, rows, listing))
    assert sum(s.images for s in sources) == 44
    assert fetch(server, sources, data) == {s.slug: "rebuilt" for s in sources}
    for source in sources:
        verify_source_folder(source, data / "raw" / source.slug)
        for entry in sample_rows()[source.slug]:
            rebuilt = (data / "raw" / source.slug / entry["file"]).read_bytes()
            assert rebuilt == (MIRROR / source.slug / entry["file"]).read_bytes(), entry["file"]
    assert report_rows(data) == []
    assert not (data / "raw" / ".upstream").exists() or not any(
        (data / "raw" / ".upstream").iterdir()
    )


def _real(slug: str) -> Source:
    return next(s for s in load_sources(project_root() / "data" / "sources.yml") if s.slug == slug)


# --- the kinds without shipped originals, on small originals ------------------------------------


def dicom_slice(
    rows: np.ndarray, z: float, slope: float = 1.0, intercept: float = -1024.0
) -> bytes:
    """An uncompressed CT DICOM file holding `rows` (stored values) at position z."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "CT"
    ds.Rows, ds.Columns = rows.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
    ds.RescaleSlope, ds.RescaleIntercept = slope, intercept
    ds.ImagePositionPatient = [0.0, 0.0, z]
    ds.PixelData = rows.astype("<i2").tobytes()
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def expected_jpeg(pixels: np.ndarray, *sizes: tuple[int, int]) -> bytes:
    """Pillow's Lanczos resizes then a quality-90 JPEG with optimised tables."""
    image = Image.fromarray(np.ascontiguousarray(pixels))
    for size in sizes:
        image = image.resize(size, Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90, optimize=True)
    return buffer.getvalue()


def test_dicom_series_reformat(server: OriginServer, data: Path) -> None:
    rng = np.random.default_rng(1)
    stored = rng.integers(0, 2000, (6, 12, 10)).astype(np.int16)
    positions = [-40.0, -10.0, -55.0, -25.0, 5.0, -70.0]  # file order is not z order
    members = {}
    for index, (plane, z) in enumerate(zip(stored, positions, strict=True)):
        members[f"IM{index:04d}.dcm"] = dicom_slice(plane, z)
        server.add(REPO, COMMIT, f"series/s1/IM{index:04d}.dcm", members[f"IM{index:04d}.dcm"])
    server.add(REPO, COMMIT, "series/s1/notes.txt", b"not part of the set")
    listing = "".join(
        f"{hashlib.sha256(data_).hexdigest()}  {name}\n" for name, data_ in sorted(members.items())
    )
    volume = stored[np.argsort(positions)].astype(np.float64) - 1024  # V[n][r][c] by z
    section = volume[:, 7, :]  # axis=1, slice=7: S[n][c]
    windowed = np.clip(np.rint(((section - (-600 - 750)) / 1500) * 255), 0, 255).astype(np.uint8)
    transform = "dicomseries;axis=1;slice=7;window=-600/1500;flip=v;resize=10x9;resize=8x7;jpeg=opt"
    expected = expected_jpeg(windowed[::-1], (10, 9), (8, 7))
    entry = {
        "file": "images/lung/series_coronal.jpg",
        "repository": REPO,
        "commit": COMMIT,
        "original_path": "series/s1/IM*.dcm",
        "original_sha256": hashlib.sha256(listing.encode()).hexdigest(),
        "transform": transform,
        "dhash256": dhash256(expected),
    }
    source = write_source(data, "series", [entry])
    assert fetch(server, [source], data) == {"series": "rebuilt"}
    assert (data / "raw" / "series" / entry["file"]).read_bytes() == expected


def nifti_bytes(volume: np.ndarray) -> bytes:
    import nibabel

    image = nibabel.Nifti1Image(volume, np.eye(4))
    image.header.set_slope_inter(np.nan, np.nan)
    return gzip.compress(image.to_bytes(), mtime=0)


def h5_bytes(volume: np.ndarray) -> bytes:
    import h5py

    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as bundle:
        bundle.create_dataset("image", data=volume, compression="gzip", chunks=True)
        bundle.create_dataset("label", data=np.zeros(volume.shape, np.uint8))
    return buffer.getvalue()


def scaled_vol(volume: np.ndarray, section: np.ndarray) -> np.ndarray:
    """`scale=vol` written with NumPy's own float32 percentile."""
    lo, hi = np.percentile(volume.astype(np.float32), [0.5, 99.5])
    spread = float(np.float32(hi - lo))
    values = section.astype(np.float32).astype(np.float64)
    return np.clip(np.rint(((values - float(lo)) / spread) * 255), 0, 255).astype(np.uint8)


def test_volume_scaled_nifti_and_hdf5(server: OriginServer, data: Path) -> None:
    rng = np.random.default_rng(2)
    nifti_volume = rng.normal(300, 120, (14, 12, 9))
    h5_volume = rng.gamma(2.0, 50.0, (11, 13, 8)).astype(np.float32)
    originals = {"vol/brain.nii.gz": nifti_bytes(nifti_volume), "vol/heart.h5": h5_bytes(h5_volume)}
    for path, content in originals.items():
        server.add(REPO, COMMIT, path, content)
    expected = {
        "nifti": expected_jpeg(np.rot90(scaled_vol(nifti_volume, nifti_volume[:, :, 4])), (9, 10)),
        "h5": expected_jpeg(scaled_vol(h5_volume, h5_volume[:, :, 3]).T, (10, 8)),
    }
    rows = [
        row(
            "nifti",
            "vol/brain.nii.gz",
            originals["vol/brain.nii.gz"],
            "nifti;axis=2;slice=4;scale=vol;rot90;resize=9x10;jpeg=opt",
            expected["nifti"],
        ),
        row(
            "h5",
            "vol/heart.h5",
            originals["vol/heart.h5"],
            "h5=image;axis=2;slice=3;scale=vol;transpose;resize=10x8;jpeg=opt",
            expected["h5"],
        ),
    ]
    source = write_source(data, "volumes", rows)
    assert fetch(server, [source], data) == {"volumes": "rebuilt"}
    for name, content in expected.items():
        assert (data / "raw" / "volumes" / f"images/other/{name}.jpg").read_bytes() == content


def test_bmp_is_read_top_row_first(server: OriginServer, data: Path) -> None:
    pixels = np.random.default_rng(3).integers(0, 256, (9, 13, 3), np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "BMP")
    original = buffer.getvalue()
    assert original[14:18] == (40).to_bytes(4, "little")  # BITMAPINFOHEADER, 24 bits, bottom-up
    server.add(REPO, COMMIT, "derm/IMD001.bmp", original)
    expected = expected_jpeg(pixels, (8, 6))
    entry = row("bmp", "derm/IMD001.bmp", original, "raster;resize=8x6;jpeg=opt", expected)
    source = write_source(data, "bmp", [entry])
    assert fetch(server, [source], data) == {"bmp": "rebuilt"}
    assert (data / "raw" / "bmp" / entry["file"]).read_bytes() == expected


# --- failures -----------------------------------------------------------------------------------


def broken_row(server: OriginServer, kind: str) -> dict:
    original = png(99)
    entry = row("broken", "scans/broken.png", original, "raster;gray;jpeg")
    if kind == "sha256":
        server.add(REPO, COMMIT, "scans/broken.png", png(98))
    elif kind == "404":
        pass
    elif kind == "truncated":
        server.truncate.add(server.add(REPO, COMMIT, "scans/broken.png", original))
    elif kind == "corrupt":
        junk = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
        server.add(REPO, COMMIT, "scans/broken.png", junk)
        entry["original_sha256"] = hashlib.sha256(junk).hexdigest()
    elif kind == "step":
        server.add(REPO, COMMIT, "scans/broken.png", original)
        entry["transform"] = "raster;sepia;jpeg"
    return entry


REASONS = {
    "sha256": "original sha256 mismatch",
    "404": "HTTP 404",
    "truncated": "truncated download",
    "corrupt": "cannot rebuild: not a readable image",
    "step": "unknown transform step 'sepia'",
}


@pytest.mark.parametrize("kind", sorted(REASONS))
def test_a_failed_row_is_reported_and_the_rest_installed(
    server: OriginServer, data: Path, kind: str
) -> None:
    rows = grey_rows(server, 20)
    rows.insert(5, broken_row(server, kind))
    source = write_source(data, "mixed", rows)
    assert fetch(server, [source], data) == {"mixed": "partial"}
    [failure] = report_rows(data)
    assert failure["source"] == "mixed" and failure["file"] == "images/other/broken.jpg"
    assert REASONS[kind] in failure["reason"]
    folder = data / "raw" / "mixed"
    listed = (folder / "files.csv").read_text().splitlines()[1:]
    assert [line.split(",")[0] for line in listed] == [
        r["file"] for r in rows if "broken" not in r["file"]
    ]
    assert not (folder / MARKER).exists()  # a later fetch tries the missing row again
    assert leftovers(data / "raw") == []


@pytest.mark.parametrize("kind", sorted(REASONS))
def test_too_many_failures_is_an_error_naming_the_source(
    server: OriginServer, data: Path, kind: str
) -> None:
    source = write_source(data, "broken-source", [broken_row(server, kind)])
    with pytest.raises(FetchError) as caught:
        fetch(server, [source], data)
    lines = str(caught.value).splitlines()
    assert lines[1].startswith("broken-source: 1 of 1 images could not be rebuilt upstream")
    assert REASONS[kind] in lines[1]
    assert not (data / "raw" / "broken-source").exists()
    assert leftovers(data / "raw") == []


def test_share_over_the_limit_fails_and_keeps_the_good_copy(
    server: OriginServer, data: Path
) -> None:
    rows = grey_rows(server, 19)
    source = write_source(data, "share", rows)
    fetch(server, [source], data)
    good = (data / "raw" / "share" / "files.csv").read_bytes()
    (data / "raw" / "share" / MARKER).unlink()
    bigger = write_source(data, "share", rows + grey_rows(None, 2, first=50))
    with pytest.raises(FetchError, match="share: 2 of 21 images"):
        fetch(server, [bigger], data)
    assert (data / "raw" / "share" / "files.csv").read_bytes() == good


def test_unknown_step_is_named() -> None:
    with pytest.raises(TransformError, match="unknown transform step 'blur=3'"):
        parse("raster;blur=3;jpeg")
    with pytest.raises(TransformError, match="does not end with a jpeg step"):
        parse("raster;gray")


# --- resuming, --limit ------------------------------------------------------------------------


def test_interrupted_fetch_resumes_where_it_stopped(
    server: OriginServer, data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = grey_rows(server, 12)
    source = write_source(data, "resumed", rows)
    done = []
    real = upstream_build.rebuild

    def interrupted(*args, **kwargs):
        if len(done) >= 5:
            raise KeyboardInterrupt
        done.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(upstream_build, "WORKERS", 1)
    monkeypatch.setattr(upstream_build, "rebuild", interrupted)
    with pytest.raises(KeyboardInterrupt):
        fetch(server, [source], data)
    assert not (data / "raw" / "resumed").exists()
    assert leftovers(data / "raw") == []
    monkeypatch.setattr(upstream_build, "rebuild", real)
    server.requests.clear()
    assert fetch(server, [source], data) == {"resumed": "rebuilt"}
    assert len(server.requests) == 12 - 5
    verify_source_folder(source, data / "raw" / "resumed")
    assert fetch(server, [source], data) == {"resumed": "present"}


def test_limit_rebuilds_the_first_rows_only(server: OriginServer, data: Path) -> None:
    rows = grey_rows(server, 10)
    source = write_source(data, "limited", rows)
    assert fetch(server, [source], data, limit=3) == {"limited": "partial"}
    assert len(server.requests) == 3
    listed = (data / "raw" / "limited" / "files.csv").read_text().splitlines()[1:]
    assert [line.split(",")[0] for line in listed] == [r["file"] for r in rows[:3]]
    assert sorted(p.name for p in (data / "raw" / "limited" / "images" / "other").iterdir()) == [
        f"img_{i:03d}.jpg" for i in range(3)
    ]


# --- the command line -------------------------------------------------------------------------


@pytest.mark.mirror
@needs_samples
def test_cli_limit_rebuilds_the_served_rows_and_names_the_unreachable(
    server: OriginServer, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    serve_samples(server)
    served = ["mammography-mias", "brain-mri-lgg-tcga-kaggle3m", "head-ct-cq500-dicom"]
    raw, report = tmp_path / "raw", tmp_path / "failures.csv"
    origins = server.origins()
    code = main(
        ["data", "fetch", "--upstream", "--only", *served, "scene15-grayscale", "--limit", "1"]
        + ["--raw", str(raw), "--report", str(report), "--quiet", "--upstream-url", origins.url]
    )
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    assert "1 of 4 sources failed to fetch:" in err
    assert "scene15-grayscale: 1 of 1 images could not be rebuilt upstream (first: HTTP 404" in err
    for slug in served:
        [line] = (raw / slug / "files.csv").read_text().splitlines()[1:]
        name = next(csv.reader([line]))[0]
        assert (raw / slug / name).read_bytes() == (MIRROR / slug / name).read_bytes()
        assert len(list((raw / slug / "images").rglob("*.jpg"))) == 1
    with report.open(newline="") as handle:
        assert [r["source"] for r in csv.DictReader(handle)] == ["scene15-grayscale"]


def test_cli_without_network_says_per_source_what_failed(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("medcnn.data.upstream.BACKOFF", 0.0)
    slugs = ["mammography-mias", "scene15-grayscale", "pypi-bundled-sample-images"]
    code = main(
        ["data", "fetch", "--only", *slugs, "--mirror", str(tmp_path / "none"), "--quiet"]
        + ["--raw", str(tmp_path / "raw"), "--report", str(tmp_path / "failures.csv")]
        + ["--upstream-url", "http://127.0.0.1:9/{repository}/{commit}/{path}"]
        + ["--index-url", "http://127.0.0.1:9/simple"]
    )
    lines = capsys.readouterr().err.splitlines()
    assert code == 1
    assert lines[0] == "medcnn: error: 3 of 3 sources failed to fetch:"
    assert sorted(line.split(":")[0] for line in lines[1:4]) == sorted(slugs)
    for line in lines[1:4]:
        assert "cannot reach 127.0.0.1:9" in line and "MEDCNN_UPSTREAM_URL" in line
    assert len(lines) == 5 and lines[4].startswith("rows that failed upstream are listed in")
    raw = tmp_path / "raw"
    assert not raw.exists() or all(p.name.startswith(".") for p in raw.iterdir())


# --- the committed upstream tables ----------------------------------------------------------


def test_every_source_has_its_committed_table() -> None:
    for source in load_sources():
        table = load_table(source)
        assert len(table.rows) == source.images
        assert all(parse(r.transform) for r in table.rows[:50])


@pytest.mark.mirror
@pytest.mark.skipif(not MIRROR.is_dir(), reason="no mirror beside the checkout")
def test_committed_tables_agree_with_the_mirror() -> None:
    for source in load_sources():
        table_path = project_root() / "data" / source.upstream_table
        mirror_copy = (MIRROR / source.slug / "upstream.csv").read_bytes()
        assert gzip.decompress(table_path.read_bytes()) == mirror_copy, source.slug
        assert hashlib.sha256(mirror_copy).hexdigest() == source.upstream_csv_sha256
