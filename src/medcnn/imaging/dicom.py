"""DICOM to a grayscale PIL image, so that the canonical preprocessing can take it from there.

Stored pixel values become modality values (rescale slope and intercept, e.g. Hounsfield
units), then the file's own display window is applied as the standard's linear VOI function
(PS3.3 C.11.2.1.2.1). Without a window the image is handed over as 32-bit float, which
`to_grayscale` stretches between its 0.5th and 99.5th percentiles exactly as it does for the
16-bit sources of the training set. MONOCHROME1 (white is low) is inverted; a multi-frame
file read as one image gives its middle frame (`medcnn.imaging.volumes` reads them all).
Compressed pixel data are decoded by the pylibjpeg plugins (JPEG, JPEG-LS, JPEG 2000, RLE).
"""

from __future__ import annotations

import io
import struct
import warnings

import numpy as np
import pydicom
from PIL import Image
from pydicom.dataset import FileMetaDataset
from pydicom.errors import InvalidDicomError
from pydicom.pixels import apply_modality_lut, pixel_array
from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from medcnn.imaging.errors import UnusableImageError, check_dimensions
from medcnn.io import one_line

PIXEL_TAGS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")
PYDICOM_ERRORS = (
    InvalidDicomError,
    EOFError,
    OSError,
    ValueError,
    KeyError,
    IndexError,
    TypeError,
    AttributeError,
    NotImplementedError,
    RuntimeError,
    OverflowError,
    struct.error,
)
"""What pydicom and its decoding plugins raise on a damaged, truncated or odd file."""


def read_dataset(content: bytes) -> pydicom.Dataset:
    """Parse the file; a file without a meta header gets the transfer syntax it was read with."""
    try:
        with warnings.catch_warnings():  # a damaged file's problem is reported as one line
            warnings.simplefilter("ignore")
            dataset = pydicom.dcmread(io.BytesIO(content), force=True)
    except PYDICOM_ERRORS as error:
        raise UnusableImageError(f"not a readable DICOM file ({reason(error)})") from None
    meta = dataset.get("file_meta") or FileMetaDataset()
    if "TransferSyntaxUID" not in meta:
        implicit, little = dataset.original_encoding
        meta.TransferSyntaxUID = (
            ImplicitVRLittleEndian
            if implicit
            else ExplicitVRLittleEndian
            if little
            else ExplicitVRBigEndian
        )
        dataset.file_meta = meta
    return dataset


def reason(error: Exception) -> str:
    """One line naming the problem; for "all plugins failed", the most telling plugin's line.

    pydicom lists one line per plugin; a plugin that merely lacks support for the transfer
    syntax says nothing about the file, so the first one that tried and failed is kept.
    """
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    if len(lines) > 1 and "all available plugins" in lines[0]:
        tried = [line for line in lines[1:] if "does not support" not in line]
        return one_line((tried or lines[1:])[0])
    return one_line(lines[0] if lines else type(error).__name__)


def first_value(value: object) -> float:
    """A DICOM number that may be multi-valued (one window per preset): the first one."""
    return float(value[0] if isinstance(value, pydicom.multival.MultiValue) else value)


def stored_window(dataset: pydicom.Dataset) -> tuple[float, float] | None:
    """The file's own window (centre, width), or None when it has no usable one."""
    try:
        center = first_value(dataset.WindowCenter)
        width = first_value(dataset.WindowWidth)
    except (AttributeError, TypeError, ValueError, IndexError):
        return None
    return (center, width) if width > 1 else None


def apply_window(values: np.ndarray, center: float, width: float) -> np.ndarray:
    """The standard's linear VOI function to uint8."""
    scaled = (values - (center - 0.5)) / (width - 1) + 0.5
    return np.round(np.clip(scaled, 0.0, 1.0) * 255).astype(np.uint8)


def check_image_object(dataset: pydicom.Dataset) -> None:
    """Refuse a DICOM object without pixel data, or whose header cannot lay the pixels out."""
    if not any(tag in dataset for tag in PIXEL_TAGS):
        raise UnusableImageError(
            "this DICOM file has no pixel data (a report, a DICOMDIR or another non-image object)"
        )
    columns, rows = int(dataset.get("Columns") or 0), int(dataset.get("Rows") or 0)
    if not columns or not rows:
        raise UnusableImageError(
            "this DICOM file has pixel data but no Rows or Columns in its header: "
            "the pixels cannot be laid out"
        )
    check_dimensions(columns, rows)


def frame_count(dataset: pydicom.Dataset) -> int:
    return int(dataset.get("NumberOfFrames") or 1)


def decoded_pixels(dataset: pydicom.Dataset, index: int | None = None) -> np.ndarray:
    """The stored pixels of one frame (`index`) or all, decoded; a failure is one line."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return pixel_array(dataset, index=index)
    except PYDICOM_ERRORS as error:
        syntax = dataset.file_meta.TransferSyntaxUID
        raise UnusableImageError(
            f"cannot decode the DICOM pixel data ({syntax.name}: {reason(error)})"
        ) from None


def modality_values(pixels: np.ndarray, dataset: pydicom.Dataset) -> np.ndarray:
    """Stored values → modality values (e.g. Hounsfield units), MONOCHROME1 inverted."""
    values = np.asarray(apply_modality_lut(pixels, dataset), dtype=np.float32)
    return -values if dataset.get("PhotometricInterpretation") == "MONOCHROME1" else values


def dicom_image(content: bytes) -> tuple[Image.Image, list[str]]:
    """Decode a DICOM file to a mode "L", "RGB" or "F" image, with warnings."""
    dataset = read_dataset(content)
    check_image_object(dataset)
    frames = frame_count(dataset)
    index, notes = None, []
    if frames > 1:
        index = frames // 2
        notes = [f"multi-frame DICOM ({frames} frames): classified the middle frame"]
    pixels = decoded_pixels(dataset, index)
    if pixels.ndim == 3:
        return colour_image(pixels), notes
    return monochrome_image(pixels, dataset), notes


def colour_image(pixels: np.ndarray) -> Image.Image:
    """An RGB frame (pydicom has already converted YBR) as an 8-bit RGB image."""
    if pixels.dtype != np.uint8:
        peak = float(pixels.max()) or 1.0
        pixels = np.round(pixels.astype(np.float64) / peak * 255).astype(np.uint8)
    return Image.fromarray(np.ascontiguousarray(pixels[..., :3]))


def monochrome_image(pixels: np.ndarray, dataset: pydicom.Dataset) -> Image.Image:
    """Modality values, windowed to 8 bits when the file says how, else float for stretching."""
    values = np.asarray(apply_modality_lut(pixels, dataset), dtype=np.float64)
    inverted = dataset.get("PhotometricInterpretation") == "MONOCHROME1"
    window = stored_window(dataset)
    if window is not None:
        windowed = apply_window(values, *window)
        return Image.fromarray(255 - windowed if inverted else windowed)
    floats = (-values if inverted else values).astype(np.float32)
    return Image.fromarray(floats)
