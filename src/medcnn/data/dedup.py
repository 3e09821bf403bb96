"""Duplicate detection.

Features are computed on two views of each image: as stored (grayscale, before
padding) and in canonical form (padded square). Either view can reveal a copy
the other misses: re-cropped copies look alike once padded, re-padded copies
look alike as stored. Two images are *near duplicates* in a view when their
256-bit difference hashes differ in at most `max_distance` bits **and** their
32×32 thumbnails correlate at
`min_correlation` or more. The hash finds candidates cheaply; the pixel
correlation confirms them, because a coarse hash alone matches different chest
X-rays that merely share a layout.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
from PIL import Image

HASH_SIDE = 16
THUMB_SIDE = 32


@dataclass(frozen=True)
class NearPair:
    """Rows `first` < `second` are near duplicates."""

    first: int
    second: int
    distance: int
    correlation: float


def pixel_digest(pixels: np.ndarray) -> str:
    """SHA-1 of the canonical pixels: equal digests mean identical images."""
    return hashlib.sha1(np.ascontiguousarray(pixels).tobytes()).hexdigest()


def difference_hash(gray: np.ndarray) -> np.ndarray:
    """256-bit dHash (is each pixel brighter than its right neighbour at 17×16?) as 4 uint64."""
    small = Image.fromarray(gray).resize((HASH_SIDE + 1, HASH_SIDE), Image.Resampling.LANCZOS)
    values = np.asarray(small, dtype=np.int16)
    bits = values[:, 1:] > values[:, :-1]
    return np.packbits(bits.ravel()).view(np.uint64)


def thumbnail(gray: np.ndarray) -> np.ndarray:
    """32×32 box-filtered thumbnail of a grayscale image, uint8."""
    small = Image.fromarray(gray).resize((THUMB_SIDE, THUMB_SIDE), Image.Resampling.BOX)
    return np.asarray(small, dtype=np.uint8)


def thumbnail_vectors(thumbs: np.ndarray) -> np.ndarray:
    """(N, 32, 32) thumbnails → (N, 1024) rows, centred and scaled to unit norm.

    The dot product of two rows is the Pearson correlation of the thumbnails.
    """
    flat = thumbs.reshape(len(thumbs), -1).astype(np.float32)
    centred = flat - flat.mean(axis=1, keepdims=True)
    norms = np.linalg.norm(centred, axis=1, keepdims=True)
    return np.divide(centred, norms, out=np.zeros_like(centred), where=norms > 0)


def image_features(gray: np.ndarray, canonical: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Difference hashes (2, 4) and thumbnails (2, 32, 32) of the stored and canonical views."""
    views = (gray, canonical)
    return (
        np.stack([difference_hash(view) for view in views]),
        np.stack([thumbnail(view) for view in views]),
    )


def near_duplicate_pairs(
    hashes: np.ndarray,
    thumbs: np.ndarray,
    max_distance: int = 16,
    min_correlation: float = 0.98,
    block_rows: int = 128,
) -> list[NearPair]:
    """Every pair of rows that are near duplicates, by blocked all-pairs Hamming distance.

    `hashes` is (N, 4) uint64 from `difference_hash`; `thumbs` is (N, 1024) from
    `thumbnail_vectors`. Exact all-pairs search: no pair is missed by bucketing.
    """
    count = len(hashes)
    pairs: list[NearPair] = []
    for start in range(0, count, block_rows):
        stop = min(start + block_rows, count)
        distances = np.zeros((stop - start, count - start), dtype=np.uint16)
        for word in range(hashes.shape[1]):
            distances += np.bitwise_count(
                hashes[start:stop, None, word] ^ hashes[None, start:, word]
            )
        rows, columns = np.nonzero(distances <= max_distance)
        first, second = rows + start, columns + start
        ahead = second > first
        first, second = first[ahead], second[ahead]
        correlations = np.einsum("ij,ij->i", thumbs[first], thumbs[second])
        for a, b, correlation in zip(first, second, correlations, strict=True):
            if correlation >= min_correlation:
                pairs.append(
                    NearPair(
                        int(a),
                        int(b),
                        int(distances[a - start, b - start]),
                        round(float(correlation), 4),
                    )
                )
    return pairs
