"""The notebook upload widget, driven as a user would: by setting FileUpload.value."""

from __future__ import annotations

import datetime as dt

import ipywidgets as widgets
import pytest

from medcnn.config import CLASSES
from medcnn.ui.widget import PredictionWidget
from tests.helpers import save_tiny_model, scan_png


def uploaded(name: str, content: bytes) -> dict:
    """One entry of ipywidgets 8 `FileUpload.value`: `content` is a memoryview."""
    return {
        "name": name,
        "type": "image/png",
        "size": len(content),
        "content": memoryview(content),
        "last_modified": dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
    }


def descendants(widget: widgets.Widget) -> list[widgets.Widget]:
    found = [widget]
    for child in getattr(widget, "children", ()):
        found += descendants(child)
    return found


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return save_tiny_model(tmp_path_factory.mktemp("models") / "lung.keras", favour="lung")


def test_each_upload_shows_bars_images_and_warnings(model, tmp_path) -> None:
    view = PredictionWidget(model)
    content = scan_png(tmp_path / "scan.png").read_bytes()
    view.upload.value = (uploaded("scan.png", content), uploaded("bad.png", b"%PDF-1.4"))
    good, bad = view.results.children
    parts = descendants(good)
    bars = {b.description: b.value for b in parts if isinstance(b, widgets.FloatProgress)}
    assert list(bars) == list(CLASSES) and bars["lung"] > 0.9
    assert sum(isinstance(p, widgets.Image) for p in parts) == 2  # the image and its Grad-CAM
    html = " ".join(p.value for p in parts if isinstance(p, widgets.HTML))
    assert "scan.png: lung (" in html and "no out-of-distribution reference" in html
    assert isinstance(bad, widgets.HTML) and "bad.png</b>: this is a PDF document" in bad.value


def test_missing_model_is_one_line_not_a_traceback(tmp_path) -> None:
    view = PredictionWidget(tmp_path / "missing.keras")
    content = scan_png(tmp_path / "scan.png").read_bytes()
    view.upload.value = (uploaded("scan.png", content),)
    (line,) = view.results.children
    assert "no such model file" in line.value and "Traceback" not in line.value


def test_a_new_upload_replaces_the_results(model, tmp_path) -> None:
    view = PredictionWidget(model)
    view.upload.value = (uploaded("a.png", b""), uploaded("b.png", b""))
    view.upload.value = (uploaded("c.png", b""),)
    (line,) = view.results.children
    assert "c.png</b>: the file is empty" in line.value
