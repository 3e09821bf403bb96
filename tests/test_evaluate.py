"""Evaluation end to end: folders of unseen sources, a model's report, and `medcnn evaluate`."""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from medcnn.cli import main
from medcnn.config import CLASSES
from medcnn.data.build import decode_file
from medcnn.data.manifest import COLUMNS, write_manifest
from medcnn.evaluation.calibration import fit_temperature
from medcnn.evaluation.report import (
    FolderError,
    evaluate_model,
    evaluate_probabilities,
    load_folder,
    models_table,
    per_class_table,
    summary,
    validation_temperature,
)
from medcnn.imaging.readers import read_image
from medcnn.modeling.artifacts import make_card, save_model
from medcnn.modeling.forward import class_probabilities
from medcnn.modeling.unsure import UnsureRule
from tests.helpers import synthetic_image, tiny_model, write_source
from tests.test_readers import dicom_bytes

SIZE = 128
REQUIRED_KEYS = {"accuracy", "macro_f1", "per_class", "confusion_matrix", "ece", "per_source"}


def brightness_model(sharpness: float = 60.0) -> keras.Model:
    """Dark → brain, mid-grey → lung, bright → other, far too sure of itself."""
    inputs = keras.Input((SIZE, SIZE, 1))
    x = keras.layers.Rescaling(1 / 255)(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    head = keras.layers.Dense(3, activation="softmax")
    model = keras.Model(inputs, head(x))
    kernel = np.array([[-3.0, 0.0, 3.0]]) * sharpness
    head.set_weights([kernel, np.array([1.0, 0.0, -2.0]) * sharpness])
    return model


def brightness_data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Flat images whose brightness third gives the label, a quarter of labels flipped."""
    rng = np.random.default_rng(seed)
    brightness = rng.uniform(0.02, 0.98, n)
    labels = np.minimum((brightness * 3).astype(int), 2)
    flipped = rng.random(n) < 0.25
    labels[flipped] = (labels[flipped] + rng.integers(1, 3, flipped.sum())) % 3
    images = np.round(brightness[:, None, None, None] * 255) * np.ones((n, SIZE, SIZE, 1))
    return images.astype(np.uint8), labels.astype(np.int32)


@pytest.fixture
def sources(tmp_path: Path) -> Path:
    """Two unseen sources: one with an RGB non-square image, one with a corrupt and a
    missing file."""
    root = tmp_path / "unseen"
    wide = Image.merge("RGB", [synthetic_image(s, (90, 60)) for s in (1, 2, 3)])
    write_source(root, "new-brain", "brain", {"a": synthetic_image(4), "wide": wide}, modality="CT")
    write_source(
        root,
        "new-other",
        "other",
        {"b": synthetic_image(5), "c": synthetic_image(6), "bad": b"not a jpeg", "gone": None},
        modality="CT",
    )
    return root


def test_folder_images_are_decoded_as_the_build_decodes(sources) -> None:
    images, labels, frame = load_folder(sources)
    assert images.shape == (4, SIZE, SIZE, 1) and images.dtype == np.uint8
    assert list(labels) == [0, 0, 2, 2]
    assert list(frame["source"]) == ["new-brain", "new-brain", "new-other", "new-other"]
    assert {"path", "label", "source", "modality"} <= set(frame.columns)
    reasons = {row["path"]: row["error"] for row in frame.attrs["unreadable"]}
    assert set(reasons) == {"new-other/images/other/bad.jpg", "new-other/images/other/gone.jpg"}
    wide = sources / "new-brain" / "images" / "brain" / "wide.jpg"
    np.testing.assert_array_equal(images[1, ..., 0], decode_file(wide.read_bytes(), SIZE).pixels)


def test_one_source_folder_alone_is_accepted(sources) -> None:
    _, labels, frame = load_folder(sources / "new-brain")
    assert list(labels) == [0, 0] and set(frame["source"]) == {"new-brain"}


def test_a_dicom_file_in_a_folder_is_read_as_predict_reads_it(sources) -> None:
    scan = np.asarray(synthetic_image(7), np.uint16) * 16
    dicom = sources / "new-brain" / "images" / "brain" / "scan.dcm"
    dicom.write_bytes(dicom_bytes(scan))
    csv = sources / "new-brain" / "files.csv"
    csv.write_text(csv.read_text() + "images/brain/scan.dcm,brain,x,CT,axial,,up/scan\n")
    images, _, frame = load_folder(sources / "new-brain")
    assert list(frame["path"])[-1] == "new-brain/images/brain/scan.dcm"
    np.testing.assert_array_equal(images[-1, ..., 0], read_image(dicom).pixels)


def test_unusable_folders_are_refused(tmp_path, sources) -> None:
    with pytest.raises(FolderError, match="no files.csv"):
        load_folder(tmp_path / "empty")
    csv = sources / "new-brain" / "files.csv"
    csv.write_text(csv.read_text().replace(",brain,", ",kidney,"))
    with pytest.raises(FolderError, match="unknown labels"):
        load_folder(sources)


def test_report_of_an_overconfident_model() -> None:
    model = brightness_model()
    val_images, val_labels = brightness_data(300, seed=1)
    images, labels = brightness_data(300, seed=2)
    frame = pd.DataFrame({"source": np.where(np.arange(300) % 2, "odd", "even"), "modality": "CT"})
    temperature = fit_temperature(class_probabilities(model, val_images), val_labels)
    report = evaluate_model(model, images, labels, frame, temperature, resamples=200)
    assert REQUIRED_KEYS | {"per_modality", "reliability"} <= set(report)
    assert 0.6 < report["accuracy"] < 0.9
    assert report["ece"] > 0.15  # sure of nearly every answer, right three times in four
    assert temperature > 2 and report["ece_after_temperature"] < report["ece"] / 2
    assert set(report["per_source"]) == {"even", "odd"} and report["per_modality"]["CT"]["n"] == 300
    json.dumps(report, allow_nan=False)
    text = summary(report)
    assert "macro-F1" in text and "after temperature scaling" in text and "odd" in text


@pytest.fixture
def model_file(tmp_path) -> Path:
    return save_model(brightness_model(), tmp_path / "tiny.keras", make_card("tiny", seed=0))


@pytest.fixture
def processed(tmp_path) -> Path:
    """A tiny manifest with a val and a test split of brightness-coded images."""
    parts = []
    for split, seed in (("val", 1), ("test", 2)):
        images, labels = brightness_data(90, seed)
        rows = pd.DataFrame({column: "" for column in COLUMNS}, index=range(90))
        rows["label"] = [CLASSES[k] for k in labels]
        rows["split"], rows["modality"] = split, "XR"
        rows["source"] = [f"{split}-{i % 3}" for i in range(90)]
        rows["path"] = [f"{split}/{i}.jpg" for i in range(90)]
        rows["width"] = rows["height"] = SIZE
        parts.append((rows, images[..., 0]))
    frame = pd.concat([rows for rows, _ in parts], ignore_index=True)
    pixels = np.concatenate([pixels for _, pixels in parts])
    write_manifest(frame, pixels, tmp_path / "processed")
    return tmp_path / "processed"


def test_validation_temperature_is_fitted_on_the_val_split(processed) -> None:
    assert validation_temperature(brightness_model(), processed) > 2


def test_cli_on_a_folder_of_unseen_sources(sources, model_file, tmp_path, capsys) -> None:
    out = tmp_path / "report.json"
    status = main(
        [
            "evaluate",
            "--model",
            str(model_file),
            "--data",
            str(sources),
            "--json",
            str(out),
            "--processed",
            str(tmp_path / "no-manifest"),
            "--resamples",
            "50",
        ]
    )
    assert status == 0
    report = json.loads(out.read_text())
    assert set(report) >= REQUIRED_KEYS
    assert set(report["per_source"]) == {"new-brain", "new-other"}
    assert report["n"] == 4 and len(report["unreadable"]) == 2
    assert report["temperature"] is None and report["temperature_fitted_on"] is None
    printed = capsys.readouterr().out
    assert "accuracy" in printed and "new-other" in printed and "could not be read" in printed


def test_cli_on_a_split_fits_the_temperature_on_val(model_file, processed, tmp_path) -> None:
    out = tmp_path / "test.json"
    args = ["evaluate", "--model", str(model_file), "--split", "test", "--json", str(out)]
    assert main([*args, "--processed", str(processed), "--resamples", "50"]) == 0
    report = json.loads(out.read_text())
    assert report["n"] == 90 and report["temperature_fitted_on"] == "val"
    assert report["ece_after_temperature"] < report["ece"]
    assert set(report["per_source"]) == {"test-0", "test-1", "test-2"}


def test_cli_errors_are_one_line(model_file, tmp_path, capsys) -> None:
    assert main(["evaluate", "--model", str(model_file), "--data", str(tmp_path)]) == 1
    error = capsys.readouterr().err
    assert error.startswith("medcnn: error:") and error.count("\n") == 1
    missing = ["evaluate", "--model", str(tmp_path / "none.keras"), "--data", str(tmp_path)]
    assert main(missing) == 1
    with pytest.raises(SystemExit):
        main(["evaluate", "--split", "test", "--data", str(tmp_path)])


def test_a_rule_adds_unsure_figures_overall_and_per_source() -> None:
    model = tiny_model(favour="lung")  # answers lung at about 99 % whatever the image
    images = np.random.default_rng(0).integers(0, 255, (6, 128, 128, 1), dtype=np.uint8)
    labels = np.array([1, 1, 1, 0, 0, 2])
    frame = pd.DataFrame({"source": ["chest"] * 3 + ["head"] * 2 + ["photo"]})
    sure = evaluate_model(model, images, labels, frame, resamples=20, rule=UnsureRule())
    assert sure["abstention"]["all"]["unsure_rate"] == 0.0
    assert sure["abstention"]["all"]["asserted_error_rate"] == pytest.approx(0.5)
    assert sure["abstention"]["chest"]["accuracy_when_sure"] == 1.0
    assert sure["abstention"]["head"]["asserted_error_rate"] == 1.0
    strict = UnsureRule(min_probability=0.999)
    report = evaluate_model(model, images, labels, frame, resamples=20, rule=strict)
    assert report["abstention"]["all"]["unsure_rate"] == 1.0
    assert report["abstention"]["all"]["accuracy_when_sure"] is None
    assert "abstention" not in evaluate_model(model, images, labels, frame, resamples=20)


def test_tables_of_a_report_and_of_several_models() -> None:
    labels = np.array([0, 0, 1, 1, 1])
    probabilities = np.eye(3)[[0, 1, 1, 1, 1]]
    report = evaluate_probabilities(probabilities, labels, resamples=50)
    table = per_class_table(report)
    assert list(table.index) == list(CLASSES)
    assert table.loc["other", "F1 95% interval"] == "—"  # no image of that class
    assert table.loc["brain", "recall"] == 0.5
    models = models_table({"m": {"test": report, "external": report}})
    assert models.loc[("m", "external"), "macro-F1"] == report["macro_f1"]
    assert models.index.names == ["model", "split"]
