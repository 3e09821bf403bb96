"""Volumes: NIfTI, DICOM series (zip, folder, uploads), multi-frame DICOM and multi-page TIFF
become oriented slices, chosen and windowed by the stated rule; bad volumes get one line."""

from __future__ import annotations

import gzip
import io
import json
import logging
import struct
import zipfile
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, MRImageStorage, generate_uid

from medcnn.cli import main
from medcnn.imaging import readers
from medcnn.imaging.errors import UnusableImageError
from medcnn.imaging.inputs import group_uploads, read_content, read_path
from medcnn.imaging.slices import MAX_SLICES, choose_slices
from medcnn.imaging.volumes import Volume
from medcnn.inference.study import predict_path
from medcnn.presentation.studies import plot_study
from medcnn.ui.widget import live_in_voila
from tests.helpers import save_tiny_model


def nifti_bytes(slices: np.ndarray, affine: np.ndarray | None = None, compress: bool = True):
    """A NIfTI-1 file of slices (n, rows, cols) shown as viewers show them: voxel axes
    x = columns toward the patient's right, y = rows toward anterior, z = slices (RAS)."""
    data = np.transpose(np.asarray(slices), (2, 1, 0))[::-1, ::-1, :]
    content = nib.Nifti1Image(np.ascontiguousarray(data), np.eye(4) if affine is None else affine)
    raw = content.to_bytes()
    return gzip.compress(raw, mtime=0) if compress else raw


def dicom_slice(
    pixels: np.ndarray,
    series: str,
    z: float,
    number: int,
    modality: str = "MR",
    intercept: float = 0.0,
) -> bytes:
    """One single-frame DICOM slice of an axial series, position `z` along the normal."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage if modality == "CT" else MRImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    dataset = Dataset()
    dataset.file_meta = meta
    dataset.SOPClassUID = meta.MediaStorageSOPClassUID
    dataset.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    dataset.SeriesInstanceUID = series
    dataset.Modality = modality
    dataset.InstanceNumber = number
    dataset.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    dataset.ImagePositionPatient = [0, 0, z]
    dataset.Rows, dataset.Columns = pixels.shape
    dataset.SamplesPerPixel = 1
    dataset.PhotometricInterpretation = "MONOCHROME2"
    dataset.BitsAllocated = dataset.BitsStored = 16
    dataset.HighBit = 15
    dataset.PixelRepresentation = 0
    dataset.RescaleIntercept = intercept
    dataset.RescaleSlope = 1
    dataset.PixelData = np.asarray(pixels, np.uint16).tobytes()
    buffer = io.BytesIO()
    pydicom.dcmwrite(buffer, dataset, enforce_file_format=True)
    return buffer.getvalue()


def dicom_series(slices: np.ndarray, modality: str = "MR", intercept: float = 0.0) -> list:
    """(name, bytes) of each slice of one series, written in shuffled order."""
    series = generate_uid()
    files = [
        (f"slice_{i:03d}.dcm", dicom_slice(s, series, 2.5 * i, i + 1, modality, intercept))
        for i, s in enumerate(slices)
    ]
    order = np.random.default_rng(0).permutation(len(files))
    return [files[i] for i in order]


def zip_bytes(members: list) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in members:
            archive.writestr(name, content)
    return buffer.getvalue()


def numbered_slices(count: int = 12, size: int = 64) -> np.ndarray:
    """Slices whose brightness grows with their index and whose top-left corner is marked."""
    rows, cols = np.mgrid[0:size, 0:size]
    base = 60 + 40 * np.sin(rows / 5.0) * np.cos(cols / 7.0)
    slices = np.stack([base + 5 * i for i in range(count)]).astype(np.uint16)
    slices[:, :8, :8] = 250
    return slices


def test_nifti_slices_come_out_as_viewers_show_them() -> None:
    slices = numbered_slices()
    (volume,) = read_content(nifti_bytes(slices), "scan.nii.gz")
    assert volume.kind == "NIfTI" and volume.voxels.shape == slices.shape
    np.testing.assert_array_equal(volume.voxels, slices)
    flipped_x = np.transpose(slices, (2, 1, 0))[:, ::-1, :]  # x toward the left (LAS)
    las = nib.Nifti1Image(np.ascontiguousarray(flipped_x), np.diag([-1.0, 1, 1, 1]))
    (again,) = read_content(las.to_bytes(), "scan.nii")
    np.testing.assert_array_equal(again.voxels, slices)


def test_a_dicom_series_is_sorted_along_its_normal_in_a_zip_a_folder_and_uploads(tmp_path):
    slices = numbered_slices()
    files = dicom_series(slices)
    (from_zip,) = read_content(zip_bytes(files), "study.zip")
    folder = tmp_path / "series"
    folder.mkdir()
    for name, content in files:
        (folder / name).write_bytes(content)
    (from_folder,) = read_path(folder)
    ((name, members),) = group_uploads(files)
    (from_upload,) = read_content(zip_bytes(members), name)
    for volume in (from_zip, from_folder, from_upload):
        assert volume.kind == "DICOM series"
        np.testing.assert_array_equal(volume.voxels, slices)
    assert name == f"{len(files)} DICOM files"


def test_ct_in_hounsfield_units_gets_a_named_window() -> None:
    chest = np.full((6, 64, 64), -1000.0, np.float32)  # air around the body
    chest[:, 8:56, 8:56] = 40  # soft tissue
    chest[:, 16:48, 12:30] = chest[:, 16:48, 34:52] = -800  # two lungs
    head = np.full((6, 64, 64), -1000.0, np.float32)
    head[:, 8:56, 8:56] = 35
    head[:, 8:12, 8:56] = 1000  # skull
    windows = {
        name: choose_slices(Volume(name, voxels, "NIfTI", hounsfield=True)).window
        for name, voxels in (("chest", chest), ("head", head))
    }
    assert windows == {
        "chest": "CT lung window (C -600, W 1500 HU)",
        "head": "CT brain window (C 40, W 80 HU)",
    }
    files = dicom_series((chest + 1024).astype(np.uint16), modality="CT", intercept=-1024)
    (volume,) = read_content(zip_bytes(files), "chest.zip")
    assert volume.hounsfield and choose_slices(volume).window.startswith("CT lung window")


def test_empty_slices_are_skipped_and_every_kth_is_used() -> None:
    voxels = np.zeros((100, 64, 64), np.float32)
    voxels[10:90] = numbered_slices(80)
    chosen = choose_slices(Volume("v", voxels, "NIfTI"))
    step = int(np.ceil(80 / MAX_SLICES))
    assert list(chosen.indices) == list(range(10 + step // 2, 90, step))
    assert chosen.read == 100 and chosen.pixels.shape == (len(chosen.indices), 128, 128)


def test_multiframe_dicom_and_multipage_tiff_are_volumes() -> None:
    pages = [Image.fromarray(s.astype(np.uint8)) for s in numbered_slices(5)]
    buffer = io.BytesIO()
    pages[0].save(buffer, "TIFF", save_all=True, append_images=pages[1:])
    (tiff,) = read_content(buffer.getvalue(), "stack.tif")
    assert tiff.kind == "multi-page TIFF" and tiff.voxels.shape == (5, 64, 64)
    frames = pydicom.examples.get_path("ybr_color")
    (cine,) = read_path(frames)
    assert cine.kind == "multi-frame DICOM" and cine.voxels.shape[0] == 30


def test_jpeg2000_rasters_are_read(tmp_path) -> None:
    path = tmp_path / "scan.jp2"
    Image.fromarray(numbered_slices(1)[0].astype(np.uint8)).save(path)
    assert readers.read_image(path).kind == "JPEG2000"


def test_a_bug_in_medcnn_is_logged_and_still_one_line(monkeypatch, caplog, tmp_path) -> None:
    def broken(image):
        raise KeyError("a medcnn bug")

    monkeypatch.setattr(readers, "to_grayscale", broken)
    path = tmp_path / "scan.png"
    Image.fromarray(numbered_slices(1)[0].astype(np.uint8)).save(path)
    with (
        caplog.at_level(logging.ERROR, logger="medcnn.imaging"),
        pytest.raises(UnusableImageError, match="a bug logged") as error,
    ):
        readers.read_image(path)
    assert "\n" not in str(error.value) and "KeyError" in caplog.text


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    return save_tiny_model(tmp_path_factory.mktemp("models") / "lung.keras", favour="lung")


def huge_nifti_header() -> bytes:
    """A NIfTI-2 header (NIfTI-1 sides stop at 32767) claiming 10⁵×10⁵×10³ voxels."""
    header = nib.Nifti2Header()
    header.set_data_shape((100_000, 100_000, 1000))
    header.set_data_dtype(np.uint8)
    return gzip.compress(header.binaryblock + struct.pack("<i", 0))


def bad_volumes(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """Each bad volume, written to disk, with the start of its one-line error."""
    slices = numbered_slices()
    good = nifti_bytes(slices)
    dicom = dicom_series(slices[:3])
    cases = {
        "truncated.nii.gz": (good[: len(good) // 2], "the NIfTI volume is truncated"),
        "huge.nii.gz": (huge_nifti_header(), "the volume is 100000×100000×1000 voxels"),
        "escape.zip": (
            zip_bytes([("../../etc/evil.dcm", dicom[0][1])]),
            "the zip has a member that points outside it",
        ),
        "many.zip": (zip_bytes([(f"{i}.txt", b"x") for i in range(10_000)]), "the zip holds 10000"),
        "notes.zip": (
            zip_bytes([("a.txt", b"hello"), ("b.csv", b"1,2")]),
            "a ZIP archive with no DICOM image",
        ),
    }
    paths = {}
    for name, (content, message) in cases.items():
        (tmp_path / name).write_bytes(content)
        paths[name] = (tmp_path / name, message)
    (tmp_path / "empty").mkdir()
    paths["empty"] = (tmp_path / "empty", "the folder is empty")
    return paths


def test_bad_volumes_get_one_line_each(model, tmp_path, capsys) -> None:
    cases = bad_volumes(tmp_path)
    assert main(["predict", "--model", str(model), *(str(p) for p, _ in cases.values())]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == len(cases) + 1  # one per file and the summary
    for line, (path, message) in zip(lines, cases.values(), strict=False):
        assert line.startswith(f"{path}: error: {message}"), line
    assert "Traceback" not in "\n".join(lines)


def test_a_zip_mixing_two_series_gets_an_answer_per_series(model, tmp_path, capsys) -> None:
    slices = numbered_slices()
    mixed = tmp_path / "mixed.zip"
    mixed.write_bytes(zip_bytes(dicom_series(slices[:5]) + dicom_series(slices[5:])))
    assert main(["predict", "--json", "--model", str(model), str(mixed)]) == 0
    records = json.loads(capsys.readouterr().out)
    assert [r["file"] for r in records] == [f"{mixed} [series {i} of 2]" for i in (1, 2)]
    for record in records:
        assert record["kind"] == "DICOM series" and record["top_class"] == "lung"
        assert "mixes 2 DICOM series" in " ".join(record["warnings"])
        assert len(record["slices"]) == record["slices_used"] == record["slices_read"]
    assert [r["slices_read"] for r in records] == [5, 7]


def test_a_study_figure_shows_every_used_slice(model, tmp_path) -> None:
    import matplotlib.pyplot as plt

    path = tmp_path / "study.zip"
    path.write_bytes(zip_bytes(dicom_series(numbered_slices())))
    (study,) = predict_path(path, model)
    figure = plot_study(study, truth="lung")
    images = [axis for axis in figure.axes if axis.images]
    assert len(images) == len(study.slices) + 1  # the strip and the heatmap
    assert figure.get_suptitle().startswith("study.zip: lung (")
    plt.close(figure)


def test_the_static_page_note_is_hidden_when_voila_serves_the_notebook(monkeypatch) -> None:
    monkeypatch.delenv("VOILA_KERNEL_ID", raising=False)
    monkeypatch.delenv("VOILA_SERVER_URL", raising=False)
    assert not live_in_voila()
    monkeypatch.setenv("VOILA_SERVER_URL", "/")
    assert live_in_voila()
