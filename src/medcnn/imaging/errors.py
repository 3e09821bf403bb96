"""What makes a file unusable, and the size limits every reader enforces before decoding."""

from __future__ import annotations

from medcnn.io import one_line

MAX_FILE_BYTES = 64 * 2**20
"""Largest file read: a generous cap for one scan or photo, well below memory trouble."""
MAX_PIXELS = 40_000_000
"""Largest image decoded (a 6000×6000 scan fits); larger headers are refused before decoding."""
MIN_SIDE = 16
"""Smallest side accepted: below it a 128 px canonical image would be invented, not measured."""


class UnusableImageError(ValueError):
    """A file that cannot be classified; `str()` is one line saying why."""

    def __init__(self, message: str) -> None:
        super().__init__(one_line(message))


def check_size(size: int) -> None:
    if size == 0:
        raise UnusableImageError("the file is empty (0 bytes)")
    if size > MAX_FILE_BYTES:
        raise UnusableImageError(
            f"the file is {size / 2**20:.0f} MiB; the limit is {MAX_FILE_BYTES // 2**20} MiB"
        )


def check_dimensions(width: int, height: int) -> None:
    """Refuse absurd headers before decoding: too many pixels, or too small to mean anything."""
    if width * height > MAX_PIXELS:
        raise UnusableImageError(
            f"the image is {width}×{height} pixels; the limit is "
            f"{MAX_PIXELS / 1e6:.0f} megapixels (a decompression bomb or a corrupt header)"
        )
    if min(width, height) < MIN_SIDE:
        raise UnusableImageError(
            f"the image is {width}×{height} pixels; medcnn needs at least {MIN_SIDE} on each side"
        )
