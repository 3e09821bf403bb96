"""The release model on real files through the prediction path.

These tests need `models/medcnn.keras` (made by `make model`) and the built dataset
(`make data`); they fail, never skip, when either is missing, so a CI run that forgets to
train cannot pass quietly.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import ipywidgets as widgets
import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from medcnn.cli import main
from medcnn.config import CLASSES, raw_dir
from medcnn.data.manifest import read_manifest
from medcnn.imaging.readers import read_image
from medcnn.inference.predictor import load_predictor
from medcnn.modeling.artifacts import release_model_path
from medcnn.modeling.features import reference_path
from medcnn.ui.widget import PredictionWidget
from tests.test_streamlit_app import APP
from tests.test_widget import descendants, uploaded

pytestmark = pytest.mark.mirror
PER_CLASS = 20


@pytest.fixture(scope="module")
def predictor():
    assert release_model_path().is_file(), f"{release_model_path()} missing: run `make model`"
    return load_predictor()


@pytest.fixture(scope="module")
def test_files() -> list[tuple[str, str]]:
    """A fixed sample of held-out test-split files per class: (path under raw/, label)."""
    manifest = read_manifest()
    test = manifest[manifest["split"] == "test"]
    sample = test.groupby("label").sample(n=PER_CLASS, random_state=0)
    return list(zip(sample["path"], sample["label"], strict=True))


def test_release_model_ships_with_its_out_of_distribution_reference() -> None:
    assert reference_path(release_model_path()).is_file()


def test_held_out_files_are_classified_correctly(predictor, test_files) -> None:
    results = [predictor.predict(raw_dir() / path, explain=False) for path, _ in test_files]
    correct = [r.top_class == label for r, (_, label) in zip(results, test_files, strict=True)]
    assert {label for _, label in test_files} == set(CLASSES)
    assert np.mean(correct) >= 0.9
    assert np.mean([r.label is not None for r in results]) >= 0.8


def test_a_reencoded_file_gets_the_same_answer(predictor, test_files) -> None:
    path, label = test_files[0]
    original = predictor.predict(raw_dir() / path, explain=False)
    buffer = io.BytesIO()
    Image.fromarray(read_image(raw_dir() / path).pixels).save(buffer, "PNG")
    again = predictor.predict(buffer.getvalue(), "again.png", explain=False)
    assert again.top_class == original.top_class
    for name in CLASSES:
        assert again.probabilities[name] == pytest.approx(original.probabilities[name], abs=0.05)


def test_release_model_explains_its_answer(predictor, test_files) -> None:
    result = predictor.predict(raw_dir() / test_files[0][0])
    assert result.overlay is not None and result.overlay.shape == (128, 128, 3)


def test_a_document_is_never_asserted_brain_or_lung(predictor) -> None:
    page = np.full((128, 96), 255, np.uint8)
    page[10:118:6, 8:88] = 0  # lines of "text"
    buffer = io.BytesIO()
    Image.fromarray(page).save(buffer, "PNG")
    answer = predictor.predict(buffer.getvalue(), "page.png", explain=False)
    assert answer.label in (None, "other")  # "other", or "unsure" with a best guess


@pytest.fixture(scope="module")
def one_per_class(test_files) -> list[tuple[Path, str]]:
    """The first sampled held-out file of each class."""
    first = {}
    for path, label in test_files:
        first.setdefault(label, raw_dir() / path)
    return [(path, label) for label, path in sorted(first.items())]


def test_every_entry_point_classifies_a_real_image_of_each_class(one_per_class, capsys) -> None:
    assert main(["predict", "--json", *(str(path) for path, _ in one_per_class)]) == 0
    records = json.loads(capsys.readouterr().out)
    assert [r["label"] for r in records] == [label for _, label in one_per_class]

    view = PredictionWidget()
    view.upload.value = tuple(uploaded(path.name, path.read_bytes()) for path, _ in one_per_class)
    for shown, (path, label) in zip(view.results.children, one_per_class, strict=True):
        html = " ".join(p.value for p in descendants(shown) if isinstance(p, widgets.HTML))
        assert f"{path.name}: {label} (" in html

    app = AppTest.from_file(str(APP), default_timeout=120)
    app.run()
    app.file_uploader[0].set_value(
        [(path.name, path.read_bytes(), "image/jpeg") for path, _ in one_per_class]
    )
    app.run()
    assert not app.exception
    verdicts = [header.value for header in app.subheader]
    for verdict, (path, label) in zip(verdicts, one_per_class, strict=True):
        assert verdict.startswith(f"{path.name}: {label} (")
