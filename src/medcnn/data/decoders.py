"""The decoders of the upstream transform grammar: original bytes to a first working value.

Each decoder follows `UPSTREAM.md` exactly: `raster` keeps the stored mode and pixels, `dicom`
gives HU in double precision, `nifti` the voxels in storage order, `h5=NAME` one dataset as
doubles, `dicomseries` and `rasterstack` a volume stacked from a set of files.
"""

from __future__ import annotations

import gzip
import io
import warnings

import numpy as np
from PIL import Image


class DecodeError(ValueError):
    """An original could not be decoded as its transform says."""


Member = tuple[str, bytes]
"""One file of a set: its name (without folder) and its bytes."""


def raster(content: bytes) -> Image.Image:
    """The first frame of a still image, mode and pixels as stored."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            image = Image.open(io.BytesIO(content))
            image.load()
    except Exception as error:  # Pillow raises many types for a damaged file
        raise DecodeError(f"not a readable image ({_reason(error)})") from error
    return image


def dicom(content: bytes) -> np.ndarray:
    """The 2-D HU array of a DICOM file: stored × RescaleSlope + RescaleIntercept."""
    dataset = _dicom_dataset(content)
    return _hounsfield(dataset)


def nifti(content: bytes) -> np.ndarray:
    """The 3-D voxels of a NIfTI-1 file in storage order (i fastest), scaled, as doubles."""
    import nibabel

    try:
        if content[:2] == b"\x1f\x8b":
            content = gzip.decompress(content)
        image = nibabel.Nifti1Image.from_bytes(content)
        volume = np.asarray(image.get_fdata(dtype=np.float64))
    except Exception as error:  # nibabel and gzip raise many types for a damaged file
        raise DecodeError(f"not a readable NIfTI-1 file ({_reason(error)})") from error
    if volume.ndim == 4 and volume.shape[3] == 1:
        volume = volume[..., 0]
    if volume.ndim != 3:
        raise DecodeError(f"NIfTI volume has shape {volume.shape}, expected 3-D")
    return volume


def h5(content: bytes, name: str) -> np.ndarray:
    """Dataset `name` of an HDF5 file as doubles (2-D or 3-D, in the dataset's index order)."""
    import h5py

    try:
        with h5py.File(io.BytesIO(content), "r") as bundle:
            if name not in bundle:
                raise DecodeError(f"HDF5 file has no dataset {name!r}")
            values = np.asarray(bundle[name][()], dtype=np.float64)
    except (OSError, ValueError) as error:
        if isinstance(error, DecodeError):
            raise
        raise DecodeError(f"not a readable HDF5 file ({_reason(error)})") from error
    if values.ndim not in (2, 3):
        raise DecodeError(f"HDF5 dataset {name!r} has {values.ndim} dimensions, expected 2 or 3")
    return values


def dicomseries(members: list[Member]) -> np.ndarray:
    """A CT series as the volume V[n][r][c] in HU, members ordered by z ascending."""
    slices = []
    for position, (name, content) in enumerate(members):
        dataset = _dicom_dataset(content, name)
        try:
            z = float(dataset.ImagePositionPatient[2])
        except (AttributeError, IndexError, TypeError, ValueError) as error:
            raise DecodeError(f"{name}: no ImagePositionPatient") from error
        slices.append((z, position, _hounsfield(dataset, name)))
    slices.sort(key=lambda item: (item[0], item[1]))
    return _stack([values for _, _, values in slices])


def rasterstack(members: list[Member]) -> np.ndarray:
    """One scan stored as grey images, stacked in member order: V[n][r][c], 8-bit."""
    planes = []
    for name, content in members:
        image = raster(content)
        if image.mode != "L":
            raise DecodeError(f"{name}: mode {image.mode}, expected an 8-bit grey image")
        planes.append(np.asarray(image))
    return _stack(planes)


def _stack(planes: list[np.ndarray]) -> np.ndarray:
    if not planes:
        raise DecodeError("the set of files is empty")
    if len({plane.shape for plane in planes}) != 1:
        raise DecodeError("the files of the set differ in size")
    return np.stack(planes)


def _dicom_dataset(content: bytes, name: str = ""):
    import pydicom

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return pydicom.dcmread(io.BytesIO(content), force=True)
    except Exception as error:  # pydicom raises many types for a damaged header
        raise DecodeError(_named(name, f"not a readable DICOM file ({_reason(error)})")) from error


def _hounsfield(dataset, name: str = "") -> np.ndarray:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            stored = dataset.pixel_array
    except Exception as error:  # missing pixel data, unsupported codec, damaged frame
        raise DecodeError(_named(name, f"DICOM pixels unreadable ({_reason(error)})")) from error
    if stored.ndim != 2:
        raise DecodeError(_named(name, f"DICOM pixels have shape {stored.shape}, expected 2-D"))
    slope = float(dataset.get("RescaleSlope", 1) or 1)
    intercept = float(dataset.get("RescaleIntercept", 0) or 0)
    return stored.astype(np.float64) * slope + intercept


def _named(name: str, message: str) -> str:
    return f"{name}: {message}" if name else message


def _reason(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
