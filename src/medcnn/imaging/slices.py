"""Which slices of a volume are classified, and how their values become 8-bit pixels.

The rule: window the whole volume once, drop near-empty slices (fewer than 5 % of pixels
above a tenth of full brightness), then take every k-th of the rest along the acquisition
axis, starting half a step in, with k the smallest step that keeps at most `MAX_SLICES`.
Each chosen slice then meets the canonical preprocessing of single images (`square_resize`).

Windows: the file's own DICOM window when it has one. CT in Hounsfield units otherwise gets
the lung window (centre −600, width 1500) when at least 15 % of the voxels denser than air
are aerated lung (−950 to −500 HU), else the brain window (centre 40, width 80). Anything
else is stretched between the volume's 0.5th and 99.5th percentiles, as 16-bit images are.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from medcnn.imaging.canonical import square_resize
from medcnn.imaging.errors import UnusableImageError
from medcnn.imaging.volumes import Volume

MAX_SLICES = 32
EMPTY_BRIGHTNESS = 25
EMPTY_SHARE = 0.05
BRAIN_WINDOW = (40.0, 80.0)
LUNG_WINDOW = (-600.0, 1500.0)
LUNG_SHARE = 0.15


@dataclass(frozen=True)
class ChosenSlices:
    """The canonical pixels (n, S, S) of the slices chosen, their indices in the volume,
    how many slices were read, and how values were mapped to 8 bits."""

    indices: np.ndarray
    pixels: np.ndarray
    read: int
    window: str


def value_range(volume: Volume) -> tuple[float, float, str]:
    """The values mapped to black and to white, and a phrase saying why."""
    if volume.window is not None:
        center, width = volume.window
        return (
            center - width / 2,
            center + width / 2,
            f"the file's window (C {center:g}, W {width:g})",
        )
    sample = volume.voxels[:, ::4, ::4]
    if volume.hounsfield:
        denser_than_air = sample[sample > -950]
        lung = np.mean(denser_than_air <= -500) if denser_than_air.size else 0.0
        name, (center, width) = (
            ("CT lung window", LUNG_WINDOW)
            if lung >= LUNG_SHARE
            else ("CT brain window", BRAIN_WINDOW)
        )
        return center - width / 2, center + width / 2, f"{name} (C {center:g}, W {width:g} HU)"
    low, high = np.percentile(sample, [0.5, 99.5])
    if high <= low:
        raise UnusableImageError("the volume is one flat value: nothing to classify")
    return float(low), float(high), "stretched between the volume's 0.5th and 99.5th percentiles"


def to_uint8(values: np.ndarray, low: float, high: float) -> np.ndarray:
    scaled = (values - low) / (high - low)
    return np.round(np.clip(scaled, 0.0, 1.0) * 255).astype(np.uint8)


def choose_slices(volume: Volume) -> ChosenSlices:
    """The slices that carry the answer, as canonical pixels (the rule is the module's)."""
    low, high, window = value_range(volume)
    preview = to_uint8(volume.voxels[:, ::4, ::4], low, high)
    filled = np.mean(preview > EMPTY_BRIGHTNESS, axis=(1, 2)) >= EMPTY_SHARE
    candidates = np.flatnonzero(filled)
    if candidates.size == 0:
        raise UnusableImageError(
            f"all {len(volume.voxels)} slices are empty or nearly so ({window}): "
            "nothing to classify"
        )
    step = math.ceil(candidates.size / MAX_SLICES)
    chosen = candidates[step // 2 :: step]
    pixels = np.stack([square_resize(to_uint8(volume.voxels[i], low, high)) for i in chosen])
    return ChosenSlices(chosen, pixels, len(volume.voxels), window)
