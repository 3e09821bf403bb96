"""Studies built from real test-split images, one per class, answered by the release model
through every entry point: the CLI, the notebook widget and the Streamlit app.

Each study stacks held-out images of one class, modality and source (the source with the
most of them) as slices: a NIfTI volume, and a DICOM series written slice by slice. Needs
the built dataset (`make data`); outside CI the tests skip without it.
"""

from __future__ import annotations

import json
import os

import ipywidgets as widgets
import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from medcnn.cli import main
from medcnn.data.manifest import ManifestError, read_manifest, read_pixels
from medcnn.explain.gradcam import grad_cam
from medcnn.inference.predictor import load_predictor
from medcnn.ui.widget import PredictionWidget
from tests.test_streamlit_app import APP
from tests.test_volumes import dicom_series, nifti_bytes, zip_bytes
from tests.test_widget import descendants, uploaded

pytestmark = pytest.mark.mirror
STUDIES = {"brain": "MRI", "lung": "CT", "other": "CT"}
SLICES = 24


def class_slices(label: str, modality: str) -> np.ndarray:
    """Held-out canonical images of one class, modality and source, sorted by path."""
    try:
        manifest, pixels = read_manifest(), read_pixels()
    except ManifestError as error:
        if os.environ.get("CI"):
            pytest.fail(f"the built dataset is missing: {error}")
        pytest.skip(f"no built dataset: {error}")
    rows = manifest[
        (manifest["split"] == "test")
        & (manifest["label"] == label)
        & (manifest["modality"] == modality)
    ]
    source = rows["source"].value_counts().index[0]
    rows = rows[rows["source"] == source].sort_values("path").head(SLICES)
    return np.stack([pixels[i] for i in rows.index])


@pytest.fixture(scope="module")
def studies(tmp_path_factory) -> dict[str, dict]:
    """Per class: a .nii.gz, a DICOM zip, a DICOM folder and the series' files."""
    folder = tmp_path_factory.mktemp("studies")
    made = {}
    for label, modality in STUDIES.items():
        slices = class_slices(label, modality)
        files = dicom_series(slices)
        series = folder / f"{label}_series"
        series.mkdir()
        for name, content in files:
            (series / name).write_bytes(content)
        (folder / f"{label}.nii.gz").write_bytes(nifti_bytes(slices.astype(np.int16)))
        (folder / f"{label}.zip").write_bytes(zip_bytes(files))
        made[label] = {
            "nifti": folder / f"{label}.nii.gz",
            "zip": folder / f"{label}.zip",
            "folder": series,
            "files": files,
            "slices": slices,
        }
    return made


def test_the_cli_gives_each_study_its_class(studies, capsys) -> None:
    paths = [str(study[kind]) for study in studies.values() for kind in ("nifti", "zip", "folder")]
    assert main(["predict", "--json", *paths]) == 0
    records = json.loads(capsys.readouterr().out)
    assert [r["label"] for r in records] == [label for label in studies for _ in range(3)]
    for record in records:
        assert record["slices_read"] == SLICES and record["slices_used"] == len(record["slices"])
        assert {"index", "top_class", "unsure", "probabilities"} <= set(record["slices"][0])


def test_the_widget_answers_dicom_files_uploaded_together_as_one_study(studies) -> None:
    view = PredictionWidget()
    view.upload.value = tuple(
        uploaded(name, content) for study in studies.values() for name, content in study["files"]
    ) + tuple(uploaded(s["nifti"].name, s["nifti"].read_bytes()) for s in studies.values())
    titles = [
        p.value
        for shown in view.results.children
        for p in descendants(shown)
        if isinstance(p, widgets.HTML) and p.value.startswith("<h4>")
    ]
    expected = [f"{SLICES} DICOM files: {label} (" for label in studies]
    expected += [f"{label}.nii.gz: {label} (" for label in studies]
    assert len(titles) == len(expected)
    for title, start in zip(titles, expected, strict=True):
        assert title.startswith(f"<h4>{start}") and f"of {SLICES} slices" in title


def test_the_streamlit_app_answers_volumes_and_series(studies) -> None:
    app = AppTest.from_file(str(APP), default_timeout=120)
    app.run()
    lung = studies["lung"]
    app.file_uploader[0].set_value(
        [(lung["nifti"].name, lung["nifti"].read_bytes(), "application/gzip")]
        + [(name, content, "application/dicom") for name, content in studies["brain"]["files"]]
    )
    app.run()
    assert not app.exception
    headers = [header.value for header in app.subheader]
    assert headers[0].startswith("lung.nii.gz: lung (")
    assert headers[1].startswith(f"{SLICES} DICOM files: brain (")


def test_the_fast_heatmap_is_the_release_models_grad_cam(studies) -> None:
    predictor = load_predictor()
    slices = studies["brain"]["slices"][:4]
    traced = predictor.gradcam(slices, [0] * len(slices))
    for image, heatmap in zip(slices, traced, strict=True):
        expected = grad_cam(predictor.model, image[..., np.newaxis].astype("float32"), 0)
        np.testing.assert_allclose(heatmap, expected, atol=1e-4)
