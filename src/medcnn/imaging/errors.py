"""What makes a file unusable, and the size limits every reader enforces before decoding."""

from __future__ import annotations

import logging

from medcnn.io import one_line

logger = logging.getLogger("medcnn.imaging")

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


def check_size(size: int, limit: int = MAX_FILE_BYTES) -> None:
    if size == 0:
        raise UnusableImageError("the file is empty (0 bytes)")
    if size > limit:
        raise UnusableImageError(
            f"the file is {size / 2**20:.0f} MiB; the limit is {limit // 2**20} MiB"
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


MAX_VOXELS = 200_000_000
"""Largest volume decoded (e.g. 400 slices of 512×512 with room to spare); larger headers are
refused before reading the voxels."""
MAX_MEMBERS = 2_000
"""Most files read from one zip or folder: a long CT series, well below a zip bomb of tiny files."""
MAX_STUDY_BYTES = 1024 * 2**20
"""Largest study read: one volume file, or the files of one zip or folder once unpacked."""


def check_voxels(shape: tuple[int, ...]) -> None:
    """Refuse a volume whose header claims more voxels than `MAX_VOXELS`, before reading them."""
    voxels = 1
    for side in shape:
        voxels *= max(int(side), 0)
    if voxels > MAX_VOXELS:
        sides = "×".join(str(int(side)) for side in shape)
        raise UnusableImageError(
            f"the volume is {sides} voxels; the limit is {MAX_VOXELS / 1e6:.0f} million "
            "(a decompression bomb or a corrupt header)"
        )


def internal_error(error: Exception, what: str) -> UnusableImageError:
    """Log an error medcnn did not expect (a bug, not a bad file) and give the user one line."""
    logger.error("unexpected error while reading %s", what, exc_info=error)
    reason = one_line(f"{type(error).__name__}: {error}")
    return UnusableImageError(
        f"medcnn failed on this file, a bug logged for the maintainer ({reason})"
    )
