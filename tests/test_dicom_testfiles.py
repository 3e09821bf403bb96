"""Every DICOM file of pydicom's own test set is classified or refused with a reason that
names the actual problem; the common transfer syntaxes decode."""

from __future__ import annotations

from pathlib import Path

import pydicom
import pytest

from medcnn.imaging.errors import UnusableImageError
from medcnn.inference.study import predict_path
from tests.helpers import save_tiny_model

TEST_FILES = Path(pydicom.__file__).parent / "data" / "test_files"
MUST_DECODE = {
    "SC_rgb_jpeg_dcmtk.dcm": "JPEG baseline",
    "JPGExtended.dcm": "JPEG extended, 12-bit",
    "MR_small_jpeg_ls_lossless.dcm": "JPEG-LS lossless",
    "SC_rgb_jls_lossy_line.dcm": "JPEG-LS near-lossless",
    "MR_small_jp2klossless.dcm": "JPEG 2000 lossless",
    "JPEG2000.dcm": "JPEG 2000",
    "MR_small_RLE.dcm": "RLE",
    "MR_small_bigendian.dcm": "explicit VR big endian",
    "MR_small_implicit.dcm": "implicit VR little endian",
    "examples_ybr_color.dcm": "multi-frame YBR",
}
VAGUE = ("all available plugins", "damaged or unreadable", "a bug logged")


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    return save_tiny_model(tmp_path_factory.mktemp("models") / "lung.keras", favour="lung")


def test_pydicom_ships_its_test_files() -> None:
    assert set(MUST_DECODE) <= {path.name for path in TEST_FILES.glob("*.dcm")}


@pytest.mark.parametrize("path", sorted(TEST_FILES.glob("*.dcm")), ids=lambda path: path.name)
def test_each_file_is_classified_or_refused_with_its_reason(model, path) -> None:
    try:
        answers = predict_path(path, model, explain=False)
    except UnusableImageError as error:
        assert path.name not in MUST_DECODE, f"{MUST_DECODE[path.name]}: {error}"
        message = str(error)
        assert "\n" not in message and not any(vague in message for vague in VAGUE), message
        return
    assert answers and all(answer.top_class == "lung" for answer in answers)
