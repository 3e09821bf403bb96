"""Every image, whatever its mode, reaches one canonical form."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from medcnn.imaging.canonical import ImageDecodeError, open_image, to_canonical


def encode(image: Image.Image, fmt: str = "PNG", **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA", "P", "LA", "I;16", "I", "F", "CMYK", "1"])
def test_every_mode_becomes_uint8_square(mode: str) -> None:
    image = Image.new("RGB", (40, 20), (200, 100, 50)).convert(mode)
    pixels = to_canonical(image, size=32)
    assert pixels.shape == (32, 32)
    assert pixels.dtype == np.uint8


def test_sixteen_bit_uses_full_range() -> None:
    ramp = np.linspace(0, 4095, 64 * 64).reshape(64, 64).astype(np.uint16)
    pixels = to_canonical(open_image(encode(Image.fromarray(ramp))), size=64)
    assert pixels.min() == 0
    assert pixels.max() == 255


def test_aspect_is_kept_by_padding() -> None:
    wide = Image.new("L", (100, 50), 255)
    pixels = to_canonical(wide, size=100)
    assert pixels[:24].max() == 0 and pixels[-24:].max() == 0  # black bars above and below
    assert pixels[26:74].min() == 255


def test_transparent_pixels_become_black() -> None:
    image = Image.new("RGBA", (10, 10), (255, 255, 255, 0))
    assert to_canonical(image, size=10).max() == 0


def test_exif_orientation_is_applied() -> None:
    image = Image.new("L", (40, 20), 0)
    image.paste(255, (0, 0, 20, 20))  # bright left half
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise on display
    rotated = open_image(encode(image, "JPEG", exif=exif))
    assert rotated.size == (20, 40)


@pytest.mark.parametrize("payload", [b"", b"not an image", encode(Image.new("L", (9, 9)))[:30]])
def test_undecodable_bytes_raise_clear_error(payload: bytes) -> None:
    with pytest.raises(ImageDecodeError, match="cannot decode image"):
        to_canonical(open_image(payload))
