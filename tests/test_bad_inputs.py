"""Every kind of bad file gets one clear line, from the reader and from `medcnn predict`."""

from __future__ import annotations

import gzip
import io
import struct
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from medcnn.cli import main
from medcnn.imaging.errors import MAX_FILE_BYTES, UnusableImageError
from medcnn.imaging.readers import read_image
from tests.helpers import save_tiny_model
from tests.test_readers import dicom_bytes, encode, picture


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_header_only(width: int, height: int) -> bytes:
    """A valid PNG signature and header claiming `width`×`height`, with almost no pixel data."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", idat)
        + png_chunk(b"IEND", b"")
    )


def good_png() -> bytes:
    return encode(Image.fromarray(picture()), "PNG")


def corrupt_png() -> bytes:
    """A PNG whose compressed pixel data was overwritten (its CRC no longer matches)."""
    content = bytearray(good_png())
    start = content.index(b"IDAT") + 4
    content[start + 10 : start + 40] = b"\xff" * 30
    return bytes(content)


def zip_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("scan.png", good_png())
    return buffer.getvalue()


def dicom_without_pixels() -> bytes:
    import pydicom

    dataset = pydicom.dcmread(io.BytesIO(dicom_bytes(picture().astype(np.uint16))))
    del dataset.PixelData
    buffer = io.BytesIO()
    dataset.save_as(buffer)
    return buffer.getvalue()


def transparent_png() -> bytes:
    return encode(Image.new("RGBA", (64, 64), (255, 255, 255, 0)), "PNG")


BAD_BYTES: dict[str, tuple[Callable[[], bytes], str]] = {
    "empty": (lambda: b"", "the file is empty"),
    "plain text": (lambda: b"patient scan attached\n", "not an image medcnn can read"),
    "random bytes": (
        lambda: np.random.default_rng(0).bytes(4096),
        "not an image medcnn can read",
    ),
    "windows program": (lambda: b"MZ\x90\x00" + b"\x00" * 500, "not an image medcnn can read"),
    "pdf renamed png": (lambda: b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n%%EOF\n", "a PDF document"),
    "svg": (
        lambda: b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"></svg>',
        "an SVG vector drawing",
    ),
    "html": (lambda: b"<!DOCTYPE html><html><img src=scan.png></html>", "a web page"),
    "zip": (zip_bytes, "a ZIP archive"),
    "gzip": (lambda: gzip.compress(good_png()), "gzip-compressed"),
    "json": (lambda: b'{"image": "scan.png"}', "a JSON or text file"),
    "truncated png": (lambda: good_png()[: len(good_png()) // 2], "damaged or truncated"),
    "truncated jpeg": (
        lambda: encode(Image.fromarray(picture()), "JPEG")[:400],
        "damaged or truncated",
    ),
    "corrupt png data": (corrupt_png, "damaged"),
    "png signature only": (lambda: good_png()[:8], "not an image medcnn can read"),
    "decompression bomb": (lambda: png_header_only(100_000, 100_000), "too large to decode"),
    "absurd dimensions": (lambda: png_header_only(10_000, 5_000), "the limit is 40 megapixels"),
    "one pixel": (lambda: encode(Image.new("L", (1, 1), 9), "PNG"), "1×1 pixels"),
    "thin strip": (lambda: png_header_only(60_000, 1), "at least 16 on each side"),
    "constant image": (lambda: encode(Image.new("L", (64, 64), 128), "PNG"), "one flat shade"),
    "fully transparent": (transparent_png, "one flat shade"),
    "constant 16-bit tiff": (
        lambda: encode(Image.fromarray(np.full((32, 32), 900, np.uint16)), "TIFF"),
        "one flat shade",
    ),
    "dicom without pixel data": (dicom_without_pixels, "no pixel data"),
    "dicom with short pixel data": (
        lambda: dicom_bytes(picture().astype(np.uint16))[:-2000],
        "cannot decode the DICOM pixel data",
    ),
    "dicom with garbage after the magic": (
        lambda: b"\x00" * 128 + b"DICM" + b"\xff" * 64,
        "DICOM",
    ),
    "tiny dicom": (lambda: dicom_bytes(np.ones((4, 4), np.uint16)), "4×4 pixels"),
}


@pytest.mark.parametrize("kind", list(BAD_BYTES))
def test_bad_bytes_give_one_clear_line(kind: str) -> None:
    make, expected = BAD_BYTES[kind]
    with pytest.raises(UnusableImageError) as raised:
        read_image(make(), name=f"{kind}.png")
    message = str(raised.value)
    assert expected in message
    assert "\n" not in message and len(message) < 250


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(UnusableImageError, match="no such file"):
        read_image(tmp_path / "nowhere.png")


def test_folder_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(UnusableImageError, match="a folder, not an image file"):
        read_image(tmp_path)


def test_file_over_the_size_cap_is_not_read(tmp_path: Path) -> None:
    huge = tmp_path / "huge.png"
    with huge.open("wb") as handle:
        handle.truncate(MAX_FILE_BYTES + 1)  # sparse: costs no disk
    with pytest.raises(UnusableImageError, match="MiB; the limit is 64 MiB"):
        read_image(huge)


def frames_file(fmt: str, count: int) -> bytes:
    frames = [Image.fromarray(np.roll(picture(), 9 * i, axis=1)) for i in range(count)]
    return encode(frames[0], fmt, save_all=True, append_images=frames[1:])


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        ("GIF", "animated GIF with 3 frames: classified the first frame"),
        ("TIFF", "multi-page TIFF with 3 frames: classified the first frame"),
        ("WEBP", "animated WEBP with 3 frames: classified the first frame"),
    ],
)
def test_animated_or_multi_page_files_use_the_first_frame_and_say_so(
    fmt: str, expected: str
) -> None:
    decoded = read_image(frames_file(fmt, 3))
    assert decoded.warnings == (expected,)


def test_elongated_image_is_read_with_a_warning() -> None:
    strip = np.tile(picture(), (1, 10))[:20]
    decoded = read_image(encode(Image.fromarray(strip), "PNG"))
    assert decoded.warnings == (
        "very elongated image (960×20): most of the padded square is black",
    )


def test_png_named_dcm_is_still_read_as_png() -> None:
    assert read_image(good_png(), name="scan.dcm").kind == "PNG"


def test_cli_reports_each_bad_file_in_one_line_and_keeps_going(tmp_path: Path, capsys) -> None:
    model = save_tiny_model(tmp_path / "tiny.keras")
    good = tmp_path / "good.png"
    good.write_bytes(good_png())
    bad = []
    for number, (make, _) in enumerate(BAD_BYTES.values()):
        path = tmp_path / f"bad{number}.png"
        path.write_bytes(make())
        bad.append(path)
    status = main(["predict", str(bad[0]), str(good), *map(str, bad[1:]), "--model", str(model)])
    out, err = capsys.readouterr()
    assert status == 1
    assert f"{good}: " in out and "Traceback" not in out + err
    lines = err.strip().splitlines()
    assert len(lines) == len(bad) + 1
    for path, line, (_, expected) in zip(bad, lines, BAD_BYTES.values(), strict=False):
        assert line.startswith(f"{path}: error: ") and expected in line
    assert lines[-1] == f"medcnn: error: {len(bad)} of {len(bad) + 1} files could not be classified"
