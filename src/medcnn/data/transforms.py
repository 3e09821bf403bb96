"""The transform grammar of the upstream tables: `step (";" step)*`, applied left to right.

`rebuild(transform, original)` turns an original file (or a set of files) into the bytes of the
stored JPEG, exactly as `UPSTREAM.md` specifies each step. Steps work on one value: a decoded
raster image, an array of numbers (a 2-D section or a volume), or 8-bit pixels (L or RGB).
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from PIL import Image

from medcnn.data import decoders
from medcnn.data.decoders import DecodeError, Member

JPEG_QUALITY = 90

AXES = {"sagittal": 0, "coronal": 1, "axial": 2, "0": 0, "1": 1, "2": 2}

DECODERS = ("raster", "dicom", "nifti", "h5", "dicomseries", "rasterstack")
SET_DECODERS = ("dicomseries", "rasterstack")

STEPS: dict[str, str] = {
    "raster": "none",
    "dicom": "none",
    "nifti": "none",
    "h5": "required",
    "dicomseries": "none",
    "rasterstack": "none",
    "channel": "required",
    "window": "required",
    "planes": "required",
    "axis": "required",
    "slice": "required",
    "scale": "required",
    "rot90": "none",
    "rot270": "none",
    "transpose": "none",
    "flip": "required",
    "gray": "none",
    "rgb": "optional",
    "luma": "none",
    "mean": "none",
    "resize": "required",
    "jpeg": "optional",
}
"""Every step name and whether it takes `=value`."""


class TransformError(ValueError):
    """A transform is malformed, or a step cannot apply to what the previous steps made."""


@dataclass(frozen=True)
class Step:
    name: str
    value: str | None = None

    def __str__(self) -> str:
        return self.name if self.value is None else f"{self.name}={self.value}"


@dataclass(frozen=True)
class Working:
    """The value between steps: `kind` is raster, numbers, volume or pixels."""

    kind: str
    value: Any
    volume: np.ndarray | None = None
    axis: int | None = None
    decoded_by: str = ""
    jpeg: bytes | None = None


def parse(transform: str) -> list[Step]:
    """Split a transform into steps, checking names, values, the decoder and the final jpeg."""
    steps = []
    for text in transform.split(";"):
        name, sep, value = text.strip().partition("=")
        if name not in STEPS:
            raise TransformError(f"unknown transform step {text.strip()!r}")
        rule = STEPS[name]
        if (rule == "required" and not value) or (rule == "none" and sep):
            raise TransformError(f"malformed transform step {text.strip()!r}")
        steps.append(Step(name, value if sep else None))
    if steps[0].name not in DECODERS or any(step.name in DECODERS for step in steps[1:]):
        raise TransformError(f"transform {transform!r} does not start with its one decoder")
    if steps[-1].name != "jpeg":
        raise TransformError(f"transform {transform!r} does not end with a jpeg step")
    return steps


def is_set(transform: str) -> bool:
    """True when the transform's decoder reads a set of files rather than one file."""
    return transform.split(";", 1)[0].strip() in SET_DECODERS


def rebuild(transform: str, original: bytes | list[Member], cache: dict | None = None) -> bytes:
    """The stored image's bytes, made from `original` by `transform`.

    `cache` (one dict per original) keeps decoded volumes and their percentiles between rows
    that share an original. Raises TransformError, or DecodeError for an unreadable original.
    """
    cache = {} if cache is None else cache
    steps = parse(transform)
    state = _decode(steps[0], original, cache)
    for step in steps[1:]:
        try:
            state = STEP_FUNCTIONS[step.name](state, step, cache)
        except (ValueError, IndexError) as error:
            if isinstance(error, TransformError | DecodeError):
                raise
            raise TransformError(f"step {step}: {error}") from error
    return state.jpeg


def _decode(step: Step, original: bytes | list[Member], cache: dict) -> Working:
    key = ("decoded", str(step))
    if key not in cache:
        if (step.name in SET_DECODERS) != isinstance(original, list):
            raise TransformError(f"decoder {step} does not fit the original (file or set)")
        cache[key] = _decoded(step, original)
    kind, value = cache[key]
    return Working(kind, value, volume=value if kind == "volume" else None, decoded_by=str(step))


def _decoded(step: Step, original: bytes | list[Member]) -> tuple[str, Any]:
    if step.name == "raster":
        return "raster", decoders.raster(original)
    if step.name == "dicom":
        return "numbers", decoders.dicom(original)
    if step.name == "h5":
        values = decoders.h5(original, step.value)
        return ("volume" if values.ndim == 3 else "numbers"), values
    if step.name == "nifti":
        return "volume", decoders.nifti(original)
    if step.name == "dicomseries":
        return "volume", decoders.dicomseries(original)
    return "volume", decoders.rasterstack(original)


def _expect(state: Working, step: Step, *kinds: str) -> None:
    if state.kind not in kinds:
        raise TransformError(f"step {step} cannot follow a {state.kind} value")


def _pixels_of(state: Working, step: Step) -> np.ndarray:
    """8-bit L or RGB pixels; a decoded raster image counts when it is already L or RGB."""
    if state.kind == "raster":
        if state.value.mode not in ("L", "RGB"):
            raise TransformError(
                f"step {step} needs a colour step first (image mode is {state.value.mode})"
            )
        return np.asarray(state.value)
    _expect(state, step, "pixels")
    return state.value


def _pixels(state: Working, pixels: np.ndarray) -> Working:
    return replace(state, kind="pixels", value=np.ascontiguousarray(pixels))


def _channel(state: Working, step: Step, cache: dict) -> Working:
    _expect(state, step, "raster")
    bands = state.value.getbands()
    k = int(step.value)
    if not 0 <= k < len(bands):
        raise TransformError(f"step {step}: the image has {len(bands)} bands")
    return _pixels(state, np.asarray(state.value.getchannel(k)))


def _window(state: Working, step: Step, cache: dict) -> Working:
    _expect(state, step, "numbers")
    centre, width = (float(part) for part in step.value.split("/"))
    scaled = ((state.value - (centre - width / 2)) / width) * 255
    return _pixels(state, _to_uint8(scaled))


def _planes(state: Working, step: Step, cache: dict) -> Working:
    _expect(state, step, "volume")
    first, last = (int(part) for part in step.value.split("-"))
    if not 0 <= first <= last < len(state.value):
        raise TransformError(f"step {step}: the volume has {len(state.value)} planes")
    kept = state.value[first : last + 1]
    return replace(state, value=kept, volume=kept)


def _axis(state: Working, step: Step, cache: dict) -> Working:
    _expect(state, step, "volume")
    if step.value not in AXES:
        raise TransformError(f"step {step}: axis must be one of {', '.join(AXES)}")
    return replace(state, axis=AXES[step.value])


def _slice(state: Working, step: Step, cache: dict) -> Working:
    _expect(state, step, "volume")
    if state.axis is None:
        raise TransformError(f"step {step} needs an axis step first")
    index = int(step.value)
    if not 0 <= index < state.value.shape[state.axis]:
        raise TransformError(f"step {step}: axis has {state.value.shape[state.axis]} sections")
    section = np.take(state.value, index, axis=state.axis)
    if section.dtype == np.uint8:
        return _pixels(state, section)
    return replace(state, kind="numbers", value=section)


def _scale(state: Working, step: Step, cache: dict) -> Working:
    _expect(state, step, "numbers")
    if step.value == "slice":
        lo, high = _percentiles32(state.value.astype(np.float32).ravel())
        return _pixels(state, _scale32(state.value, lo, high))
    if state.volume is None or step.value not in ("vol", "volnz"):
        raise TransformError(f"step {step}: unknown rule, or no volume to scale by")
    key = ("percentiles", state.decoded_by, step.value)
    if key not in cache:
        if step.value == "vol":
            cache[key] = _percentiles32(state.volume.astype(np.float32).ravel())
        else:
            cache[key] = _percentiles64(state.volume[state.volume != 0])
    lo, high = cache[key]
    if step.value == "vol":
        return _pixels(state, _scale32(state.value, lo, high))
    unit = np.clip((state.value - lo) / (high - lo), 0, 1) * 255
    return _pixels(state, np.rint(unit).astype(np.uint8))


def _percentiles32(values: np.ndarray) -> tuple[float, float]:
    """0.5th and 99.5th percentiles in float32 arithmetic, as NumPy's linear method."""
    n = values.size
    positions = [(n - 1) * (q / 100) for q in (0.5, 99.5)]
    kth = sorted({min(j, n - 1) for p in positions for j in (math.floor(p), math.floor(p) + 1)})
    ordered = np.partition(values, kth)
    result = []
    for p in positions:
        j = math.floor(p)
        g = p - j
        low, high = ordered[j], ordered[min(j + 1, n - 1)]
        d = np.float32(high - low)
        if g < 0.5:
            result.append(float(np.float32(low + d * np.float32(g))))
        else:
            result.append(float(np.float32(high - d * np.float32(1 - g))))
    return result[0], result[1]


def _percentiles64(values: np.ndarray) -> tuple[float, float]:
    """0.5th and 99.5th percentiles in double precision, x[⌊p⌋] + frac × difference."""
    n = values.size
    if n == 0:
        raise TransformError("scale=volnz: the volume has no non-zero voxel")
    positions = [q / 100 * (n - 1) for q in (0.5, 99.5)]
    kth = sorted({min(j, n - 1) for p in positions for j in (math.floor(p), math.floor(p) + 1)})
    ordered = np.partition(values, kth)
    result = []
    for p in positions:
        j = math.floor(p)
        low, high = float(ordered[j]), float(ordered[min(j + 1, n - 1)])
        result.append(low + (p - j) * (high - low))
    return result[0], result[1]


def _scale32(section: np.ndarray, lo: float, high: float) -> np.ndarray:
    spread = float(np.float32(np.float32(high) - np.float32(lo)))
    values = section.astype(np.float32).astype(np.float64)
    return _to_uint8(((values - lo) / spread) * 255)


def _to_uint8(values: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)


def _rot90(state: Working, step: Step, cache: dict) -> Working:
    return _pixels(state, np.rot90(_pixels_of(state, step)))


def _rot270(state: Working, step: Step, cache: dict) -> Working:
    return _pixels(state, np.rot90(_pixels_of(state, step), -1))


def _transpose(state: Working, step: Step, cache: dict) -> Working:
    return _pixels(state, np.swapaxes(_pixels_of(state, step), 0, 1))


def _flip(state: Working, step: Step, cache: dict) -> Working:
    if step.value != "v":
        raise TransformError(f"step {step}: only flip=v is defined")
    return _pixels(state, _pixels_of(state, step)[::-1])


def _gray(state: Working, step: Step, cache: dict) -> Working:
    pixels = _pixels_of(state, step)
    if pixels.ndim != 2:
        raise TransformError(f"step {step}: the image is not one 8-bit band")
    return _pixels(state, pixels)


def _rgb(state: Working, step: Step, cache: dict) -> Working:
    _expect(state, step, "raster")
    image = state.value
    if step.value is None:
        if image.mode == "RGBA":
            return _pixels(state, np.asarray(image)[:, :, :3])
        return _pixels(state, np.asarray(image.convert("RGB")))
    if step.value != "black":
        raise TransformError(f"step {step}: only rgb and rgb=black are defined")
    rgba = np.asarray(image if image.mode == "RGBA" else image.convert("RGBA")).astype(np.uint32)
    t = rgba[:, :, :3] * rgba[:, :, 3:4] + 128
    return _pixels(state, ((t + (t >> 8)) >> 8).astype(np.uint8))


def _rgb_bands(state: Working, step: Step) -> np.ndarray:
    pixels = _pixels_of(state, step)
    if pixels.ndim != 3:
        raise TransformError(f"step {step} needs an RGB image")
    return pixels.astype(np.uint32)


def _luma(state: Working, step: Step, cache: dict) -> Working:
    p = _rgb_bands(state, step)
    luma = (19595 * p[:, :, 0] + 38470 * p[:, :, 1] + 7471 * p[:, :, 2] + 32768) >> 16
    return _pixels(state, luma.astype(np.uint8))


def _mean(state: Working, step: Step, cache: dict) -> Working:
    p = _rgb_bands(state, step)
    return _pixels(state, ((p.sum(axis=2) + 1) // 3).astype(np.uint8))


def _resize(state: Working, step: Step, cache: dict) -> Working:
    width, _, height = step.value.partition("x")
    size = (int(width), int(height))
    if min(size) < 1:
        raise TransformError(f"step {step}: size must be positive")
    image = Image.fromarray(_pixels_of(state, step))
    return _pixels(state, np.asarray(image.resize(size, Image.Resampling.LANCZOS)))


def _jpeg(state: Working, step: Step, cache: dict) -> Working:
    if step.value not in (None, "opt"):
        raise TransformError(f"step {step}: only jpeg and jpeg=opt are defined")
    buffer = io.BytesIO()
    Image.fromarray(_pixels_of(state, step)).save(
        buffer, "JPEG", quality=JPEG_QUALITY, optimize=step.value == "opt"
    )
    encoded = buffer.getvalue()
    decoded = np.asarray(Image.open(io.BytesIO(encoded)))
    return replace(_pixels(state, decoded), jpeg=encoded)


STEP_FUNCTIONS = {
    "channel": _channel,
    "window": _window,
    "planes": _planes,
    "axis": _axis,
    "slice": _slice,
    "scale": _scale,
    "rot90": _rot90,
    "rot270": _rot270,
    "transpose": _transpose,
    "flip": _flip,
    "gray": _gray,
    "rgb": _rgb,
    "luma": _luma,
    "mean": _mean,
    "resize": _resize,
    "jpeg": _jpeg,
}
