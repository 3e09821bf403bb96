"""One canonical form for every image: 8-bit grayscale, square, padded, resized.

The dataset build and the prediction path both call `to_canonical`, so a model
sees exactly the same preprocessing at training time and when a user uploads a file.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from medcnn.config import CANONICAL_SIZE

HIGH_DEPTH_MODES = ("I", "I;16", "I;16B", "I;16L", "I;16N", "F")


class ImageDecodeError(ValueError):
    """The bytes are not an image Pillow can decode."""


def open_image(source: bytes | str | Path) -> Image.Image:
    """Decode bytes or a file into a fully loaded PIL image, honouring EXIF orientation."""
    try:
        content = source if isinstance(source, bytes) else Path(source).read_bytes()
        with Image.open(io.BytesIO(content)) as image:
            image.load()
            return ImageOps.exif_transpose(image)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise ImageDecodeError(f"cannot decode image: {error}") from error


def to_grayscale(image: Image.Image) -> np.ndarray:
    """Any Pillow mode → 2-D uint8 array.

    16-bit and float images are stretched between their 0.5th and 99.5th
    percentiles; transparent pixels are composited onto black, the background
    of most medical images.
    """
    if image.mode in HIGH_DEPTH_MODES:
        values = np.asarray(image, dtype=np.float64)
        low, high = np.percentile(values, [0.5, 99.5])
        scaled = (values - low) / (high - low) if high > low else np.zeros_like(values)
        return np.round(np.clip(scaled, 0.0, 1.0) * 255).astype(np.uint8)
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA"):
        background = Image.new("RGBA", image.size, (0, 0, 0, 255))
        image = Image.alpha_composite(background, image.convert("RGBA"))
    return np.asarray(image.convert("L"), dtype=np.uint8)


def pad_to_square(pixels: np.ndarray) -> np.ndarray:
    """Centre the image on a black square whose side is its longer side."""
    height, width = pixels.shape
    side = max(height, width)
    top, left = (side - height) // 2, (side - width) // 2
    square = np.zeros((side, side), dtype=np.uint8)
    square[top : top + height, left : left + width] = pixels
    return square


def to_canonical(image: Image.Image, size: int = CANONICAL_SIZE) -> np.ndarray:
    """Grayscale, pad to a square (aspect kept), resize to `size`×`size`; uint8."""
    return square_resize(to_grayscale(image), size)


def square_resize(gray: np.ndarray, size: int = CANONICAL_SIZE) -> np.ndarray:
    """Pad a grayscale array to a square and resize it to `size`×`size`."""
    square = pad_to_square(gray)
    if square.shape[0] == size:
        return square
    resized = Image.fromarray(square).resize((size, size), Image.Resampling.LANCZOS)
    return np.asarray(resized, dtype=np.uint8)
