"""The Streamlit app, run headless under streamlit.testing."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from medcnn.modeling import artifacts
from tests.helpers import save_tiny_model, scan_png

APP = Path(__file__).resolve().parents[1] / "app" / "streamlit_app.py"


@pytest.fixture
def app(monkeypatch, tmp_path) -> AppTest:
    """The app with a tiny lung-favouring model standing in for the release model."""
    release = save_tiny_model(tmp_path / "medcnn.keras", favour="lung")
    monkeypatch.setattr(artifacts, "release_model_path", lambda: release)
    test = AppTest.from_file(str(APP), default_timeout=60)
    test.run()
    return test


def test_app_starts_with_an_uploader(app) -> None:
    assert not app.exception
    assert app.title[0].value.startswith("medcnn")
    assert app.file_uploader[0].accept_multiple_files


def test_uploads_show_the_verdict_or_one_error_line(app, tmp_path) -> None:
    content = scan_png(tmp_path / "scan.png").read_bytes()
    app.file_uploader[0].set_value(
        [("scan.png", content, "image/png"), ("notes.png", b"hello", "image/png")]
    )
    app.run()
    assert not app.exception
    assert app.subheader[0].value.startswith("scan.png: lung (")
    assert any("no out-of-distribution reference" in w.value for w in app.warning)
    (error,) = app.error
    assert (
        error.value == "notes.png: not an image medcnn can read "
        "(PNG, JPEG, JPEG 2000, BMP, TIFF, GIF, WebP, DICOM or NIfTI)"
    )
