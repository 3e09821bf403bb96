"""Near-duplicate detection: copies are found, different images are not."""

from __future__ import annotations

import numpy as np

from medcnn.data.dedup import (
    difference_hash,
    near_duplicate_pairs,
    pixel_digest,
    thumbnail,
    thumbnail_vectors,
)
from tests.helpers import brighter, synthetic_image


def features(images):
    arrays = [np.asarray(image) for image in images]
    hashes = np.stack([difference_hash(a) for a in arrays])
    thumbs = thumbnail_vectors(np.stack([thumbnail(a) for a in arrays]))
    return hashes, thumbs


def test_hash_is_256_bits() -> None:
    assert difference_hash(np.asarray(synthetic_image(0))).shape == (4,)


def test_brightened_copy_is_a_near_duplicate_and_others_are_not() -> None:
    originals = [synthetic_image(seed) for seed in range(20)]
    images = [*originals, brighter(originals[3]), brighter(originals[11], 20)]
    pairs = near_duplicate_pairs(*features(images))
    assert {(p.first, p.second) for p in pairs} == {(3, 20), (11, 21)}
    assert all(p.correlation >= 0.98 and p.distance <= 16 for p in pairs)


def test_blocked_search_matches_naive_search() -> None:
    images = [
        synthetic_image(seed % 7) if seed % 3 else brighter(synthetic_image(seed % 7), seed)
        for seed in range(30)
    ]
    hashes, thumbs = features(images)
    blocked = {(p.first, p.second) for p in near_duplicate_pairs(hashes, thumbs, block_rows=4)}
    naive = {
        (i, j)
        for i in range(30)
        for j in range(i + 1, 30)
        if np.bitwise_count(hashes[i] ^ hashes[j]).sum() <= 16 and thumbs[i] @ thumbs[j] >= 0.98
    }
    assert blocked == naive and naive


def test_correlation_confirms_hash_candidates() -> None:
    hashes, thumbs = features([synthetic_image(1), synthetic_image(2)])
    hashes[1] = hashes[0]  # force a hash collision between two different pictures
    assert near_duplicate_pairs(hashes, thumbs) == []


def test_pixel_digest_is_exact() -> None:
    pixels = np.asarray(synthetic_image(5))
    changed = pixels.copy()
    changed[0, 0] ^= 1
    assert pixel_digest(pixels) == pixel_digest(pixels.copy())
    assert pixel_digest(pixels) != pixel_digest(changed)
