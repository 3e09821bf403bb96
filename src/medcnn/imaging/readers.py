"""From whatever file a user has to the canonical 128 px grayscale array, or one clear line.

Raster files go through exactly the training path (`open_image` → `to_grayscale` →
`square_resize`); DICOM is turned into a grayscale image first (`medcnn.imaging.dicom`). Everything
that can go wrong with untrusted bytes ends as an `UnusableImageError` whose text is one line
that says what is wrong with the file, never a traceback.
"""

from __future__ import annotations

import io
import struct
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from medcnn.imaging.canonical import ImageDecodeError, open_image, square_resize, to_grayscale
from medcnn.imaging.dicom import dicom_image
from medcnn.imaging.errors import (
    MAX_FILE_BYTES,
    MAX_PIXELS,
    UnusableImageError,
    check_dimensions,
    check_size,
    internal_error,
)
from medcnn.io import one_line

ELONGATED = 8
"""Aspect ratio from which the padded square is mostly black: a warning, not an error."""
RASTER_FORMATS = ("PNG", "JPEG", "JPEG2000", "BMP", "DIB", "TIFF", "GIF", "WEBP", "PPM")
ImageSource = bytes | bytearray | memoryview | str | Path
"""A file path, or the bytes of an upload."""
READABLE = "PNG, JPEG, JPEG 2000, BMP, TIFF, GIF, WebP, DICOM or NIfTI"

NOT_IMAGES = (
    (b"%PDF", "a PDF document, not an image; export the page as PNG or JPEG"),
    (b"PK\x03\x04", "a ZIP archive or office document, not an image"),
    (b"\x1f\x8b", "a gzip-compressed file: a .nii.gz is read as a study, else decompress it"),
    (b"{", "a JSON or text file, not an image"),
)
"""Leading bytes of common non-images, for a message that names what the file is."""
PILLOW_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error)
"""What Pillow's decoders raise on a damaged or truncated file (UnidentifiedImageError is an
OSError)."""


@dataclass(frozen=True)
class DecodedImage:
    """The canonical pixels of one file, what it was, and what the reader had to assume."""

    pixels: np.ndarray
    kind: str
    width: int
    height: int
    warnings: tuple[str, ...] = ()


def file_bytes(path: str | Path, limit: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of a file, refusing a missing path, a folder and anything over `limit`."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if path.is_dir():
            raise UnusableImageError("this is a folder, not an image file")
        check_size(size, limit)
        return path.read_bytes()
    except FileNotFoundError:
        raise UnusableImageError("no such file") from None
    except PermissionError:
        raise UnusableImageError("permission denied: the file cannot be read") from None
    except OSError as error:
        raise UnusableImageError(f"cannot read the file ({error.strerror or error})") from None


def is_dicom(content: bytes, name: str) -> bool:
    """The DICOM Part 10 magic, or a `.dcm` name on a file that opens with a group 2 or 8 tag.

    Old files lack the 128-byte preamble and the magic; their first tag gives them away.
    """
    if content[128:132] == b"DICM":
        return True
    first_group = (b"\x02\x00", b"\x08\x00", b"\x00\x08")  # little- or big-endian
    return name.lower().endswith((".dcm", ".dicom")) and content[:2] in first_group


def describe_non_image(content: bytes) -> str | None:
    """What a well-known non-image file is, or None."""
    head = content[:1024].lstrip().lower()
    if b"<svg" in head or (head.startswith(b"<?xml") and b"svg" in head):
        return "an SVG vector drawing; medcnn reads raster images: export it as PNG"
    if head.startswith((b"<!doctype html", b"<html")):
        return "a web page (HTML), not an image; save the image itself"
    for magic, message in NOT_IMAGES:
        if content.startswith(magic):
            return message
    return None


def check_raster(content: bytes) -> tuple[str, list[str]]:
    """Sniff a raster file without decoding it: its format, or an error; and frame warnings."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(content), formats=RASTER_FORMATS)
    except Image.DecompressionBombError:
        raise UnusableImageError(
            f"the image is too large to decode safely (over {MAX_PIXELS / 1e6:.0f} megapixels)"
        ) from None
    except PILLOW_ERRORS:
        known = describe_non_image(content)
        raise UnusableImageError(
            f"this is {known}" if known else f"not an image medcnn can read ({READABLE})"
        ) from None
    with image:
        width, height = image.size
        check_dimensions(width, height)
        frames = getattr(image, "n_frames", 1)
        notes = []
        if frames > 1:
            what = "animated" if image.format in ("GIF", "WEBP", "PNG") else "multi-page"
            notes.append(f"{what} {image.format} with {frames} frames: classified the first frame")
        return image.format, notes


def check_content(gray: np.ndarray) -> list[str]:
    """Refuse an image with nothing in it; warn about one that padding will mostly blacken."""
    low, high = int(gray.min()), int(gray.max())
    if low == high:
        raise UnusableImageError(
            f"the image is one flat shade (every pixel is {low} of 255): nothing to classify"
        )
    height, width = gray.shape
    if max(height, width) >= ELONGATED * min(height, width):
        return [f"very elongated image ({width}×{height}): most of the padded square is black"]
    return []


def decode(content: bytes, name: str) -> tuple[np.ndarray, str, list[str]]:
    """The 2-D uint8 grayscale image, the file's kind, and warnings; every failure is one line."""
    try:
        if is_dicom(content, name):
            image, notes = dicom_image(content)
            return to_grayscale(image), "DICOM", notes
        kind, notes = check_raster(content)
        return to_grayscale(open_image(content)), kind, notes
    except UnusableImageError:
        raise
    except ImageDecodeError as error:
        reason = one_line(str(error).removeprefix("cannot decode image: "))
        raise UnusableImageError(f"the file is damaged or truncated ({reason})") from None
    except MemoryError:
        raise UnusableImageError("the image is too large to decode in memory") from None
    except PILLOW_ERRORS as error:
        reason = one_line(str(error) or type(error).__name__)
        raise UnusableImageError(f"the file is damaged or unreadable ({reason})") from None
    except Exception as error:  # not the file's fault: medcnn's own bug, logged
        raise internal_error(error, name or "an upload") from None


def read_image(source: ImageSource, name: str = "") -> DecodedImage:
    """Decode a file (path) or upload (bytes) to the canonical array used in training.

    `name` (a file name) only helps recognise DICOM files without the standard preamble.
    Raises UnusableImageError with a one-line reason for anything that cannot be classified.
    """
    if isinstance(source, str | Path):
        name = name or str(source)
        content = file_bytes(source)
    else:
        content = bytes(source)
        check_size(len(content))
    gray, kind, notes = decode(content, name)
    notes += check_content(gray)
    height, width = gray.shape
    return DecodedImage(square_resize(gray), kind, width, height, tuple(notes))
