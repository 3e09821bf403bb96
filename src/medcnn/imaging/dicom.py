"""DICOM to a grayscale PIL image, so that the canonical preprocessing can take it from there.

Stored pixel values become modality values (rescale slope and intercept, e.g. Hounsfield
units), then the file's own display window is applied as the standard's linear VOI function
(PS3.3 C.11.2.1.2.1). Without a window the image is handed over as 32-bit float, which
`to_grayscale` stretches between its 0.5th and 99.5th percentiles exactly as it does for the
16-bit sources of the training set. MONOCHROME1 (white is low) is inverted; a multi-frame
file gives its middle frame, usually the most representative slice of a stack.
"""

from __future__ import annotations

import io
import warnings

import numpy as np
import pydicom
from PIL import Image
from pydicom.dataset import FileMetaDataset
from pydicom.pixels import apply_modality_lut, pixel_array
from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from medcnn.imaging.errors import UnusableImageError, check_dimensions
from medcnn.io import one_line

PIXEL_TAGS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")


def read_dataset(content: bytes) -> pydicom.Dataset:
    """Parse the file; a file without a meta header gets the transfer syntax it was read with."""
    try:
        with warnings.catch_warnings():  # a damaged file's problem is reported as one line
            warnings.simplefilter("ignore")
            dataset = pydicom.dcmread(io.BytesIO(content), force=True)
    except Exception as error:  # pydicom raises many types for a damaged header
        reason = one_line(str(error) or type(error).__name__)
        raise UnusableImageError(f"not a readable DICOM file ({reason})") from None
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


def first_value(value: object) -> float:
    """A DICOM number that may be multi-valued (one window per preset): the first one."""
    return float(value[0] if isinstance(value, pydicom.multival.MultiValue) else value)


def window(values: np.ndarray, dataset: pydicom.Dataset) -> np.ndarray | None:
    """The stored window applied (uint8), or None when the file has no usable window."""
    try:
        center = first_value(dataset.WindowCenter)
        width = first_value(dataset.WindowWidth)
    except (AttributeError, TypeError, ValueError, IndexError):
        return None
    if width <= 1:
        return None
    scaled = (values - (center - 0.5)) / (width - 1) + 0.5
    return np.round(np.clip(scaled, 0.0, 1.0) * 255).astype(np.uint8)


def frame_index(dataset: pydicom.Dataset) -> tuple[int | None, list[str]]:
    """The frame to read (None for a single-frame file) and a warning for a multi-frame one."""
    frames = int(dataset.get("NumberOfFrames") or 1)
    if frames <= 1:
        return None, []
    middle = frames // 2
    return middle, [f"multi-frame DICOM ({frames} frames): classified the middle frame"]


def dicom_image(content: bytes) -> tuple[Image.Image, list[str]]:
    """Decode a DICOM file to a mode "L", "RGB" or "F" image, with warnings."""
    dataset = read_dataset(content)
    if not any(tag in dataset for tag in PIXEL_TAGS):
        raise UnusableImageError(
            "this DICOM file has no pixel data (a report, a DICOMDIR or another non-image object)"
        )
    check_dimensions(int(dataset.get("Columns") or 0), int(dataset.get("Rows") or 0))
    index, notes = frame_index(dataset)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pixels = pixel_array(dataset, index=index)
    except Exception as error:  # missing codec, short pixel data, inconsistent header
        reason = one_line(str(error) or type(error).__name__)
        raise UnusableImageError(f"cannot decode the DICOM pixel data ({reason})") from None
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
    windowed = window(values, dataset)
    if windowed is not None:
        return Image.fromarray(255 - windowed if inverted else windowed)
    floats = (-values if inverted else values).astype(np.float32)
    return Image.fromarray(floats)
