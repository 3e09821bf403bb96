"""Files that hold a volume → slices in acquisition order, as modality values.

A NIfTI-1/2 file (`.nii`, `.nii.gz`, read by nibabel), a multi-frame DICOM file, the DICOM
files of one series (sorted along the normal of ImageOrientationPatient) and a multi-page TIFF
each become a `Volume`: float32 (slices, rows, cols), slices along the axis they were acquired
on. NIfTI slices are laid out from the affine as viewers show them (rows toward posterior or
inferior, columns toward the patient's left); DICOM frames keep their stored layout, which is
already the display one. The voxel count is checked against `MAX_VOXELS` before any voxel is read.
"""

from __future__ import annotations

import gzip
import io
import struct
import zlib
from collections import defaultdict
from dataclasses import dataclass

import nibabel as nib
import numpy as np
import pydicom
from nibabel.filebasedimages import ImageFileError
from nibabel.spatialimages import HeaderDataError
from PIL import Image, ImageSequence

from medcnn.imaging.canonical import HIGH_DEPTH_MODES, to_grayscale
from medcnn.imaging.dicom import (
    check_image_object,
    decoded_pixels,
    frame_count,
    modality_values,
    read_dataset,
    stored_window,
)
from medcnn.imaging.errors import (
    MAX_STUDY_BYTES,
    UnusableImageError,
    check_dimensions,
    check_voxels,
)
from medcnn.io import one_line

NIFTI_HEADERS = {348: nib.Nifti1Image, 540: nib.Nifti2Image}
"""sizeof_hdr, the first four bytes of a NIfTI file, and the image class that reads it."""
NIFTI_ERRORS = (HeaderDataError, ImageFileError, ValueError, EOFError, OSError, zlib.error)
Member = tuple[str, bytes]
"""One file of a series: its name and its bytes."""


@dataclass(frozen=True)
class Volume:
    """One study's slices in acquisition order, and what is known about their values.

    `hounsfield`: the values are CT Hounsfield units; `window`: the file's own display
    window (centre, width), if it has one.
    """

    name: str
    voxels: np.ndarray
    kind: str
    hounsfield: bool = False
    window: tuple[float, float] | None = None
    warnings: tuple[str, ...] = ()


def nifti_class(head: bytes) -> type | None:
    """The nibabel image class of a NIfTI header (either byte order), or None."""
    if len(head) < 4:
        return None
    for order in "<>":
        found = NIFTI_HEADERS.get(struct.unpack(f"{order}i", head[:4])[0])
        if found is not None:
            return found
    return None


def is_nifti(content: bytes) -> bool:
    """A NIfTI header at the start of the file, gzip-compressed or not."""
    if content[:2] == b"\x1f\x8b":
        try:
            with gzip.GzipFile(fileobj=io.BytesIO(content)) as stream:
                return nifti_class(stream.read(4)) is not None
        except (OSError, EOFError, zlib.error):
            return False
    return nifti_class(content[:4]) is not None


def nifti_volume(content: bytes, name: str) -> Volume:
    """A NIfTI-1/2 volume; the header's voxel count is checked before the voxels are unpacked."""
    stream = gzip.GzipFile(fileobj=io.BytesIO(content)) if content[:2] == b"\x1f\x8b" else None
    try:
        raw = stream.read(540) if stream else content[:540]
        image_class = nifti_class(raw)
        header = image_class.header_class.from_fileobj(io.BytesIO(raw))
        shape = header.get_data_shape()
        check_voxels(shape)
        needed = (
            int(header.get_data_offset()) + int(np.prod(shape)) * header.get_data_dtype().itemsize
        )
        if needed > MAX_STUDY_BYTES:
            raise UnusableImageError(f"the NIfTI volume needs {needed / 2**20:.0f} MiB; too large")
        data = raw + stream.read(needed - len(raw)) if stream else content
        if len(data) < needed:
            raise UnusableImageError(
                f"the NIfTI volume is truncated: its header promises {needed} bytes, "
                f"the file holds {len(data)}"
            )
        image = image_class.from_bytes(data[:needed])
        voxels = np.asarray(image.dataobj, dtype=np.float32)
    except UnusableImageError:
        raise
    except EOFError as error:
        raise UnusableImageError(
            f"the NIfTI volume is truncated ({one_line(str(error))})"
        ) from None
    except NIFTI_ERRORS as error:
        raise UnusableImageError(f"not a readable NIfTI volume ({one_line(str(error))})") from None
    notes = []
    if voxels.ndim == 4:
        notes.append(f"4-D NIfTI ({voxels.shape[3]} volumes): classified the first")
        voxels = voxels[..., 0]
    if voxels.ndim == 2:
        voxels = voxels[..., np.newaxis]
    if voxels.ndim != 3:
        raise UnusableImageError(f"a {voxels.ndim}-D NIfTI image; medcnn reads 2-D to 4-D")
    slice_axis = header.get_dim_info()[2]
    slices = display_slices(voxels, image.affine, 2 if slice_axis is None else slice_axis)
    check_dimensions(slices.shape[2], slices.shape[1])
    return Volume(name, slices, "NIfTI", looks_like_hounsfield(slices), None, tuple(notes))


def display_slices(voxels: np.ndarray, affine: np.ndarray, slice_axis: int) -> np.ndarray:
    """(slices, rows, cols): the slice axis first; rows toward posterior or inferior and
    columns toward the patient's left or posterior, as radiology viewers show them.

    Of the two in-plane axes, the one nearer the later RAS world axis (A/P before L/R,
    S/I before both) runs down the rows; each runs toward the negative world direction.
    """
    orientation = nib.orientations.io_orientation(affine)
    plane = [axis for axis in range(3) if axis != slice_axis]
    rows, cols = sorted(plane, key=lambda axis: orientation[axis][0], reverse=True)
    for axis in plane:
        if orientation[axis][1] > 0:
            voxels = np.flip(voxels, axis)
    return np.ascontiguousarray(np.transpose(voxels, (slice_axis, rows, cols)))


def looks_like_hounsfield(voxels: np.ndarray) -> bool:
    """CT in Hounsfield units: at least 2 % of voxels are air (−1100 to −900 HU)."""
    sample = voxels[:, ::4, ::4]
    air = np.mean((sample >= -1100) & (sample <= -900))
    return bool(air >= 0.02 and sample.max() <= 4000)


def grayscale_frames(pixels: np.ndarray) -> np.ndarray:
    """Colour frames (…, 3) → luminance; grayscale ones unchanged."""
    if pixels.ndim >= 3 and pixels.shape[-1] in (3, 4):
        return pixels[..., :3].astype(np.float32) @ np.float32([0.299, 0.587, 0.114])
    return pixels.astype(np.float32)


def multiframe_volume(dataset: pydicom.Dataset, name: str) -> Volume:
    """Every frame of a multi-frame DICOM file, in stored order."""
    frames = frame_count(dataset)
    check_voxels((frames, int(dataset.Rows), int(dataset.Columns)))
    pixels = decoded_pixels(dataset)
    colour = int(dataset.get("SamplesPerPixel") or 1) > 1
    values = grayscale_frames(pixels) if colour else modality_values(pixels, dataset)
    return Volume(
        name,
        values,
        "multi-frame DICOM",
        hounsfield=dataset.get("Modality") == "CT" and not colour,
        window=stored_window(dataset),
    )


def slice_position(dataset: pydicom.Dataset) -> float | None:
    """Where a slice lies along the normal of its ImageOrientationPatient, or None."""
    try:
        orientation = np.asarray(dataset.ImageOrientationPatient, dtype=np.float64)
        position = np.asarray(dataset.ImagePositionPatient, dtype=np.float64)
        return float(np.dot(np.cross(orientation[:3], orientation[3:]), position))
    except (AttributeError, ValueError, TypeError):
        return None


def series_key(dataset: pydicom.Dataset) -> str:
    return str(dataset.get("SeriesInstanceUID") or "unknown series")


def group_series(members: list[Member]) -> tuple[dict[str, list], list[str]]:
    """DICOM files with pixel data grouped by SeriesInstanceUID; notes on what was skipped."""
    series: dict[str, list] = defaultdict(list)
    skipped = 0
    for member_name, content in members:
        try:
            dataset = read_dataset(content)
            check_image_object(dataset)
        except UnusableImageError:
            skipped += 1
            continue
        series[series_key(dataset)].append((member_name, dataset))
    notes = [f"{skipped} file(s) skipped: not DICOM images"] if skipped else []
    return dict(series), notes


def series_volume(files: list[tuple[str, pydicom.Dataset]], name: str) -> Volume:
    """The slices of one series, sorted along the slice normal (else by InstanceNumber)."""
    positions = [slice_position(dataset) for _, dataset in files]
    if all(p is not None for p in positions):
        order = np.argsort(positions, kind="stable")
    else:
        numbers = [int(dataset.get("InstanceNumber") or 0) for _, dataset in files]
        order = np.lexsort(([n for n, _ in files], numbers))
    datasets = [files[i][1] for i in order]
    sizes = {(int(d.Rows), int(d.Columns)) for d in datasets}
    if len(sizes) > 1:
        raise UnusableImageError(
            f"the series mixes slice sizes ({', '.join(f'{r}×{c}' for r, c in sorted(sizes))})"
        )
    ((rows, cols),) = sizes
    check_voxels((len(datasets), rows, cols))
    first = datasets[0]
    colour = int(first.get("SamplesPerPixel") or 1) > 1
    slices = [
        grayscale_frames(pixels) if colour else modality_values(pixels, dataset)
        for dataset in datasets
        for pixels in [decoded_pixels(dataset, 0 if frame_count(dataset) > 1 else None)]
    ]
    return Volume(
        name,
        np.stack(slices),
        "DICOM series",
        hounsfield=first.get("Modality") == "CT" and not colour,
        window=stored_window(first),
    )


def page_values(page: Image.Image) -> np.ndarray:
    """A TIFF page's values: 16-bit and float kept as they are (the volume is windowed as a
    whole), anything else as 8-bit grayscale."""
    if page.mode in HIGH_DEPTH_MODES:
        return np.asarray(page, dtype=np.float32)
    return to_grayscale(page).astype(np.float32)


def tiff_volume(content: bytes, name: str) -> Volume:
    """The pages of a multi-page TIFF as slices; they must share one size."""
    with Image.open(io.BytesIO(content)) as image:
        check_voxels((image.n_frames, image.height, image.width))
        check_dimensions(image.width, image.height)
        pages = [page_values(page) for page in ImageSequence.Iterator(image)]
    if len({page.shape for page in pages}) > 1:
        raise UnusableImageError("the pages of this TIFF differ in size: not one volume")
    return Volume(name, np.stack(pages), "multi-page TIFF")
