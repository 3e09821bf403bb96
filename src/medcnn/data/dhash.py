"""The 256-bit difference hash of the upstream tables, and the tolerance a rebuilt image meets."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

MAX_DISTANCE = 8
"""Largest Hamming distance between a rebuilt image's dhash256 and its row's for a match."""


def dhash256(content: bytes) -> str:
    """dhash256 of an encoded image: luma grey, 17 × 16 bilinear, one bit per horizontal step."""
    image = Image.open(io.BytesIO(content))
    pixels = np.asarray(image)
    if pixels.ndim == 3:
        p = pixels[:, :, :3].astype(np.uint32)
        pixels = (19595 * p[:, :, 0] + 38470 * p[:, :, 1] + 7471 * p[:, :, 2] + 32768) >> 16
    grey = Image.fromarray(pixels.astype(np.uint8))
    small = np.asarray(grey.resize((17, 16), Image.Resampling.BILINEAR)).astype(np.int16)
    bits = (small[:, 1:] > small[:, :-1]).ravel()
    return np.packbits(bits).tobytes().hex()


def distance(first: str, second: str) -> int:
    """Number of differing bits between two hex hashes of the same length."""
    return (int(first, 16) ^ int(second, 16)).bit_count()
