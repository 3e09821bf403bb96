"""Every file format a user is likely to have decodes to the canonical array used in training."""

from __future__ import annotations

import io

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.pixels import convert_color_space
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

from medcnn.imaging.canonical import open_image, square_resize, to_canonical
from medcnn.imaging.readers import read_image


def picture(width: int = 96, height: int = 64) -> np.ndarray:
    """A smooth grayscale picture with a bright top-left block, so orientation shows."""
    rows, cols = np.mgrid[0:height, 0:width]
    pixels = 40 + 120 * (rows / height) + 60 * np.sin(cols / 9.0)
    pixels[: height // 3, : width // 4] = 250
    return np.clip(pixels, 0, 255).astype(np.uint8)


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def dicom_bytes(frames: np.ndarray, **attributes) -> bytes:
    """A Part 10 DICOM file (preamble, DICM) holding uint16 frames (F, R, C) or one (R, C)."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    dataset = Dataset()
    dataset.file_meta = meta
    dataset.SOPClassUID = CTImageStorage
    dataset.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    dataset.Modality = "CT"
    dataset.Rows, dataset.Columns = frames.shape[-2:]
    if frames.ndim == 3:
        dataset.NumberOfFrames = len(frames)
    dataset.SamplesPerPixel = 1
    dataset.PhotometricInterpretation = "MONOCHROME2"
    dataset.BitsAllocated = 16
    dataset.BitsStored = 16
    dataset.HighBit = 15
    dataset.PixelRepresentation = 0
    dataset.PixelData = np.ascontiguousarray(frames, dtype=np.uint16).tobytes()
    for key, value in attributes.items():
        setattr(dataset, key, value)
    buffer = io.BytesIO()
    pydicom.dcmwrite(buffer, dataset, enforce_file_format=True)
    return buffer.getvalue()


def colour_dicom_bytes(rgb: np.ndarray, photometric: str = "RGB", planar: int = 0) -> bytes:
    """A Part 10 DICOM file holding one 8-bit colour frame (R, C, 3) given as RGB."""
    content = pydicom.dcmread(io.BytesIO(dicom_bytes(rgb[..., 0].astype(np.uint16))))
    samples = convert_color_space(rgb, "RGB", photometric) if photometric != "RGB" else rgb
    if planar:
        samples = samples.transpose(2, 0, 1)
    content.SamplesPerPixel = 3
    content.PhotometricInterpretation = photometric
    content.PlanarConfiguration = planar
    content.BitsAllocated = content.BitsStored = 8
    content.HighBit = 7
    content.PixelData = np.ascontiguousarray(samples, dtype=np.uint8).tobytes()
    buffer = io.BytesIO()
    pydicom.dcmwrite(buffer, content, enforce_file_format=True)
    return buffer.getvalue()


def mean_difference(first: np.ndarray, second: np.ndarray) -> float:
    return float(np.abs(first.astype(float) - second.astype(float)).mean())


EXPECTED = square_resize(picture())


@pytest.mark.parametrize(
    ("fmt", "options"),
    [("PNG", {}), ("BMP", {}), ("GIF", {}), ("WEBP", {"lossless": True}), ("TIFF", {})],
)
def test_lossless_formats_give_the_canonical_array(fmt: str, options: dict) -> None:
    decoded = read_image(encode(Image.fromarray(picture()), fmt, **options))
    assert decoded.pixels.dtype == np.uint8
    np.testing.assert_array_equal(decoded.pixels, EXPECTED)
    assert (decoded.width, decoded.height) == (96, 64)
    assert decoded.warnings == ()


def test_rgb_png_is_read_as_training_grayscale() -> None:
    content = encode(Image.fromarray(picture()).convert("RGB"), "PNG")
    np.testing.assert_array_equal(read_image(content).pixels, EXPECTED)


def test_jpeg_exif_rotation_is_undone() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # the viewer must turn the stored image 90° clockwise
    stored = Image.fromarray(picture()).transpose(Image.Transpose.ROTATE_90)
    content = encode(stored, "JPEG", quality=95, exif=exif)
    decoded = read_image(content)
    assert (decoded.width, decoded.height) == (96, 64)
    assert mean_difference(decoded.pixels, EXPECTED) < 3
    np.testing.assert_array_equal(decoded.pixels, to_canonical(open_image(content)))


def test_cmyk_jpeg_is_read_as_its_gray_picture() -> None:
    content = encode(Image.fromarray(picture()).convert("CMYK"), "JPEG", quality=95)
    decoded = read_image(content)
    assert decoded.kind == "JPEG"
    assert mean_difference(decoded.pixels, EXPECTED) < 4
    np.testing.assert_array_equal(decoded.pixels, to_canonical(open_image(content)))


def test_sixteen_bit_tiff_is_stretched_like_the_training_sources() -> None:
    deep = picture().astype(np.uint16) * 16 + 100
    content = encode(Image.fromarray(deep), "TIFF")
    decoded = read_image(content)
    np.testing.assert_array_equal(decoded.pixels, to_canonical(open_image(content)))
    assert np.corrcoef(decoded.pixels.ravel(), EXPECTED.ravel())[0, 1] > 0.99


def test_path_and_bytes_agree(tmp_path) -> None:
    path = tmp_path / "scan.png"
    Image.fromarray(picture()).save(path)
    np.testing.assert_array_equal(read_image(path).pixels, read_image(path.read_bytes()).pixels)


def test_dicom_without_window_is_stretched_like_a_sixteen_bit_tiff() -> None:
    deep = picture().astype(np.uint16) * 16 + 100
    decoded = read_image(dicom_bytes(deep))
    assert decoded.kind == "DICOM"
    np.testing.assert_array_equal(
        decoded.pixels, read_image(encode(Image.fromarray(deep), "TIFF")).pixels
    )


def test_dicom_window_applies_to_hounsfield_units() -> None:
    hounsfield = picture().astype(np.float64) * 4 - 500  # -500 … 520 HU
    stored = (hounsfield + 1024).astype(np.uint16)
    content = dicom_bytes(
        stored, RescaleIntercept=-1024, RescaleSlope=1, WindowCenter=0, WindowWidth=1000
    )
    expected = np.round(np.clip((hounsfield + 0.5) / 999 + 0.5, 0, 1) * 255).astype(np.uint8)
    np.testing.assert_array_equal(read_image(content).pixels, square_resize(expected))


def test_dicom_monochrome1_is_inverted() -> None:
    stored = picture(64, 64).astype(np.uint16)
    window = {"WindowCenter": 127.5, "WindowWidth": 256}
    normal = read_image(dicom_bytes(stored, **window)).pixels.astype(int)
    inverted = read_image(dicom_bytes(stored, PhotometricInterpretation="MONOCHROME1", **window))
    assert np.abs(normal + inverted.pixels - 255).max() <= 2


def test_multi_frame_dicom_gives_the_middle_frame() -> None:
    frames = np.stack([picture() // 4, picture(), picture()[::-1]]).astype(np.uint16)
    decoded = read_image(dicom_bytes(frames))
    np.testing.assert_array_equal(decoded.pixels, read_image(dicom_bytes(frames[1])).pixels)
    assert decoded.warnings == ("multi-frame DICOM (3 frames): classified the middle frame",)


def colour_picture() -> np.ndarray:
    """Three different channels, so a single channel read as gray would not pass."""
    gray = picture()
    return np.stack([gray, gray[::-1], 255 - gray], axis=-1)


@pytest.mark.parametrize("planar", [0, 1], ids=["interleaved", "planar"])
def test_rgb_dicom_gives_the_grayscale_of_the_same_rgb_png(planar: int) -> None:
    rgb = colour_picture()
    decoded = read_image(colour_dicom_bytes(rgb, planar=planar))
    expected = read_image(encode(Image.fromarray(rgb), "PNG")).pixels
    assert decoded.kind == "DICOM" and (decoded.width, decoded.height) == (96, 64)
    assert decoded.pixels.shape == (128, 128) and decoded.pixels.dtype == np.uint8
    np.testing.assert_array_equal(decoded.pixels, expected)
    assert mean_difference(decoded.pixels, square_resize(rgb[..., 0])) > 10


def test_ybr_dicom_is_converted_to_rgb_before_grayscale() -> None:
    rgb = colour_picture()
    decoded = read_image(colour_dicom_bytes(rgb, photometric="YBR_FULL"))
    expected = read_image(encode(Image.fromarray(rgb), "PNG")).pixels
    assert np.abs(decoded.pixels.astype(int) - expected).max() <= 2


def test_dicom_without_preamble_is_recognised_by_its_name() -> None:
    content = dicom_bytes(picture().astype(np.uint16))
    dataset = pydicom.dcmread(io.BytesIO(content))
    del dataset.file_meta
    dataset.preamble = None
    buffer = io.BytesIO()
    pydicom.dcmwrite(buffer, dataset, implicit_vr=True, little_endian=True)
    legacy = buffer.getvalue()
    assert legacy[128:132] != b"DICM"
    np.testing.assert_array_equal(
        read_image(legacy, name="old.DCM").pixels, read_image(content).pixels
    )
