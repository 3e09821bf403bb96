"""What a path or an upload holds: one image, or one volume per series.

A folder or a zip of DICOM files gives one `Volume` per SeriesInstanceUID; a NIfTI file, a
multi-frame DICOM file and a multi-page TIFF give one `Volume`; every other file is a single
image (`read_image`). Uploaded single-frame DICOM files of one series are read together as
that series. Every failure is an `UnusableImageError` of one line.
"""

from __future__ import annotations

import io
import warnings
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import pydicom
from PIL import Image

from medcnn.imaging.archives import folder_members, zip_members
from medcnn.imaging.dicom import PYDICOM_ERRORS, check_image_object, frame_count, read_dataset
from medcnn.imaging.errors import MAX_STUDY_BYTES, UnusableImageError, internal_error
from medcnn.imaging.readers import PILLOW_ERRORS, DecodedImage, file_bytes, is_dicom, read_image
from medcnn.imaging.volumes import (
    Member,
    Volume,
    group_series,
    is_nifti,
    multiframe_volume,
    nifti_volume,
    series_volume,
    tiff_volume,
)
from medcnn.io import one_line

Item = DecodedImage | Volume
TIFF_MAGIC = (b"II*\x00", b"MM\x00*")


def read_path(path: str | Path) -> list[Item]:
    """A file or a folder of DICOM files, as the images and volumes it holds."""
    path = Path(path)
    if path.is_dir():
        return series_volumes(folder_members(path), str(path), "folder")
    return read_content(file_bytes(path, MAX_STUDY_BYTES), str(path))


def read_content(content: bytes, name: str) -> list[Item]:
    """The bytes of one file (or upload) as the images and volumes it holds."""
    try:
        if content.startswith(b"PK\x03\x04"):
            return series_volumes(zip_members(content), name, "zip")
        if is_nifti(content):
            return [nifti_volume(content, name)]
        if is_dicom(content, name):
            dataset = read_dataset(content)
            if frame_count(dataset) > 1:
                check_image_object(dataset)
                return [multiframe_volume(dataset, name)]
        if content.startswith(TIFF_MAGIC) and page_count(content) > 1:
            return [tiff_volume(content, name)]
    except UnusableImageError:
        raise
    except MemoryError:
        raise UnusableImageError("the volume is too large to decode in memory") from None
    except PILLOW_ERRORS as error:
        raise UnusableImageError(f"the file is damaged ({one_line(str(error))})") from None
    except Exception as error:  # not the file's fault: medcnn's own bug, logged
        raise internal_error(error, name) from None
    return [read_image(content, name)]


def page_count(content: bytes) -> int:
    """Pages of a TIFF; a TIFF Pillow cannot open counts as one (read_image says why)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(content)) as image:
                return getattr(image, "n_frames", 1)
    except (*PILLOW_ERRORS, Image.DecompressionBombError):
        return 1


def series_volumes(members: list[Member], name: str, what: str) -> list[Volume]:
    """One volume per DICOM series among the files of a zip, a folder or an upload."""
    series, notes = group_series(members)
    if not series:
        holder = "a ZIP archive" if what == "zip" else f"the {what}"
        raise UnusableImageError(
            f"{holder} with no DICOM image in it ({len(members)} file(s)); "
            "medcnn reads a zip or a folder of the DICOM files of a series"
        )
    if len(series) > 1:
        notes.append(f"the {what} mixes {len(series)} DICOM series: each is answered on its own")
    volumes = []
    for number, files in enumerate(series.values(), start=1):
        label = name if len(series) == 1 else f"{name} [series {number} of {len(series)}]"
        volume = series_volume(files, label)
        volumes.append(replace(volume, warnings=(*notes, *volume.warnings)))
    return volumes


def series_of_upload(content: bytes, name: str) -> str | None:
    """The SeriesInstanceUID of a single-frame DICOM upload, or None."""
    if not is_dicom(content, name):
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            dataset = pydicom.dcmread(io.BytesIO(content), force=True, stop_before_pixels=True)
    except PYDICOM_ERRORS:
        return None
    uid = dataset.get("SeriesInstanceUID")
    return str(uid) if uid and frame_count(dataset) == 1 else None


def group_uploads(files: list[Member]) -> list[tuple[str, list[Member]]]:
    """Uploads as the units answered: single-frame DICOM files sharing a series together
    (named by their count), every other file alone; in upload order."""
    by_series: dict[str, list[Member]] = defaultdict(list)
    units: list[tuple[str, list[Member]] | str] = []
    for name, content in files:
        uid = series_of_upload(content, name)
        if uid is None:
            units.append((name, [(name, content)]))
            continue
        if uid not in by_series:
            units.append(uid)
        by_series[uid].append((name, content))
    grouped = []
    for unit in units:
        if isinstance(unit, str):
            members = by_series[unit]
            label = members[0][0] if len(members) == 1 else f"{len(members)} DICOM files"
            grouped.append((label, members))
        else:
            grouped.append(unit)
    return grouped


def read_upload_unit(name: str, members: list[Member]) -> list[Item]:
    """One unit of `group_uploads`: a lone file, or the DICOM files of one series."""
    if len(members) == 1:
        return read_content(members[0][1], name)
    return series_volumes(members, name, "upload")
