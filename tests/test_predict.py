"""The prediction path on tiny models built to the project's contract."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from medcnn.cli import main
from medcnn.config import CLASSES
from medcnn.imaging.readers import DecodedImage, read_image
from medcnn.inference.predictor import Predictor, load_predictor, predict
from medcnn.modeling import artifacts
from medcnn.modeling.artifacts import ModelLoadError
from medcnn.modeling.features import (
    FeatureReference,
    fit_reference,
    load_reference,
    reference_path,
    save_reference,
)
from medcnn.modeling.unsure import UnsureRule, rule_path, save_rule
from tests.helpers import save_tiny_model, scan_png


@pytest.fixture(scope="module")
def lung_model(tmp_path_factory) -> Path:
    return save_tiny_model(tmp_path_factory.mktemp("models") / "lung.keras", favour="lung")


def test_prediction_carries_probabilities_verdict_and_overlay(lung_model, tmp_path) -> None:
    scan = scan_png(tmp_path / "scan.png")
    result = predict(scan, model_path=lung_model)
    assert list(result.probabilities) == list(CLASSES)
    assert sum(result.probabilities.values()) == pytest.approx(1.0, abs=1e-5)
    assert result.top_class == result.label == "lung"
    assert result.summary() == f"lung ({result.probabilities['lung']:.0%})"
    np.testing.assert_array_equal(result.pixels, read_image(scan).pixels)
    assert result.overlay.shape == (128, 128, 3) and result.overlay.dtype == np.uint8
    assert result.name == str(scan)


def test_unsure_model_does_not_assert_a_class(tmp_path) -> None:
    model = save_tiny_model(tmp_path / "unsure.keras")
    result = predict(scan_png(tmp_path / "scan.png"), model_path=model)
    assert result.label is None
    assert result.summary().startswith(f"unsure (best guess {result.top_class}, ")
    assert any(w.startswith("the model is unsure: its top probability") for w in result.warnings)


def test_single_image_path_matches_keras_predict(lung_model, tmp_path) -> None:
    predictor = Predictor.from_file(lung_model)
    pixels = np.stack(
        [read_image(scan_png(tmp_path / "a.png")).pixels, np.eye(128, dtype=np.uint8)]
    )
    _, probabilities = predictor.forward(pixels)
    expected = predictor.model.predict(pixels[..., np.newaxis].astype("float32"), verbose=0)
    np.testing.assert_allclose(probabilities, expected, atol=1e-5)
    assert predictor.forward.batches(pixels, batch_size=1)[0].shape == (2, 8)


def test_reference_flags_an_image_far_from_the_training_features(lung_model, tmp_path) -> None:
    scan = read_image(scan_png(tmp_path / "scan.png"))
    predictor = Predictor.from_file(lung_model)
    features = predictor.forward.batches(scan.pixels[np.newaxis])[0]
    near = FeatureReference(features, np.eye(8), threshold=1.0)
    far = FeatureReference(features + 100.0, np.eye(8), threshold=1.0)
    assert Predictor(predictor.model, near).classify(scan, "scan", explain=False).label == "lung"
    flagged = Predictor(predictor.model, far).classify(scan, "scan", explain=False)
    assert flagged.label is None and flagged.top_class == "lung"
    assert flagged.distance == pytest.approx(100.0 * np.sqrt(8), rel=1e-3)
    assert any(w.startswith("the image is unlike the training images") for w in flagged.warnings)


def test_screen_decides_as_classify_does(lung_model, tmp_path) -> None:
    scan = read_image(scan_png(tmp_path / "scan.png"))
    predictor = Predictor.from_file(lung_model)
    features = predictor.forward.batches(scan.pixels[np.newaxis])[0]
    pixels = np.stack([scan.pixels, 255 - scan.pixels])
    screens = {}
    for name, reference in (("near", FeatureReference(features, np.eye(8), 1e-3)), ("none", None)):
        judged = Predictor(predictor.model, reference)
        screens[name] = judged.screen(pixels, batch_size=1)
        for image, row in zip(pixels, screens[name].itertuples(), strict=True):
            answer = judged.classify(DecodedImage(image, "png", 128, 128), "x", explain=False)
            assert row.top_class == answer.top_class
            assert row.unsure == (answer.label is None)
    assert list(screens["near"]["unfamiliar"]) == [False, True]
    assert (
        screens["none"]["distance_ratio"].isna().all() and not screens["none"]["unfamiliar"].any()
    )
    with pytest.raises(ValueError, match="canonical pixels"):
        predictor.forward(np.zeros((4, 64, 64), np.uint8))


def test_without_a_reference_the_answer_says_unfamiliar_images_go_unnoticed(lung_model, tmp_path):
    result = predict(scan_png(tmp_path / "scan.png"), model_path=lung_model, explain=False)
    assert result.distance is None and result.overlay is None
    assert any("no out-of-distribution reference" in w for w in result.warnings)


def test_fitted_reference_threshold_is_a_validation_quantile(tmp_path) -> None:
    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    labels = rng.integers(0, 3, 3000)
    train = centres[labels] + rng.normal(size=(3000, 2))
    val = centres[rng.integers(0, 3, 2000)] + rng.normal(size=(2000, 2))
    reference = fit_reference(train, labels, val, quantile=0.95)
    assert np.mean(reference.distances(val) > reference.threshold) == pytest.approx(0.05, abs=0.01)
    assert reference.distances(np.array([[30.0, 30.0]]))[0] > 3 * reference.threshold
    save_reference(reference, tmp_path / "m.keras")
    loaded = load_reference(tmp_path / "m.keras")
    assert (tmp_path / "m.ood.npz").is_file() and loaded.threshold == reference.threshold
    np.testing.assert_allclose(loaded.precision, reference.precision)


def test_saved_reference_keeps_the_distances_in_under_a_third_of_the_bytes(tmp_path) -> None:
    rng = np.random.default_rng(1)
    features, labels = rng.normal(size=(600, 200)), rng.integers(0, 3, 600)
    reference = fit_reference(features, labels, features[:100])
    path = save_reference(reference, tmp_path / "m.keras")
    loaded = load_reference(tmp_path / "m.keras")
    probes = rng.normal(scale=2.0, size=(50, 200))
    np.testing.assert_allclose(loaded.distances(probes), reference.distances(probes), rtol=1e-5)
    assert path.stat().st_size < reference.precision.nbytes / 3


def test_saved_reference_is_used_by_the_loaded_predictor(tmp_path) -> None:
    model = save_tiny_model(tmp_path / "lung.keras", favour="lung")
    save_reference(FeatureReference(np.full((3, 8), 50.0), np.eye(8), threshold=1.0), model)
    result = predict(scan_png(tmp_path / "scan.png"), model_path=model, explain=False)
    assert result.label is None and result.distance > 1.0


def test_model_without_convolution_still_answers(tmp_path) -> None:
    model = save_tiny_model(tmp_path / "dense.keras", favour="other", convolution=False)
    result = predict(scan_png(tmp_path / "scan.png"), model_path=model)
    assert result.label == "other" and result.overlay is None
    assert any(w.startswith("no Grad-CAM heatmap for this model") for w in result.warnings)


def test_default_is_the_release_model(monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(artifacts, "release_model_path", lambda: tmp_path / "medcnn.keras")
    with pytest.raises(ModelLoadError, match="no such model file"):
        load_predictor()
    save_tiny_model(tmp_path / "medcnn.keras", favour="brain")
    assert predict(scan_png(tmp_path / "scan.png"), explain=False).label == "brain"


def touched(path: Path, text: str | None = None) -> None:
    """Rewrite `path` (with `text` when given) and move its mtime on, as a later save would."""
    if text is not None:
        path.write_text(text)
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))


def test_the_cached_predictor_is_reloaded_when_a_file_beside_the_model_changes(tmp_path) -> None:
    model = save_tiny_model(tmp_path / "cached.keras", favour="lung")
    first = load_predictor(model)
    assert load_predictor(model) is first  # nothing changed: the same Predictor

    card = json.loads(artifacts.card_path(model).read_text())
    touched(artifacts.card_path(model), json.dumps(card | {"name": "renamed"}))
    renamed = load_predictor(model)
    assert renamed is not first and renamed.model.medcnn_card["name"] == "renamed"

    save_reference(FeatureReference(np.zeros((3, 8)), np.eye(8), threshold=1.0), model)
    referenced = load_predictor(model)
    assert referenced is not renamed and referenced.reference.threshold == 1.0
    save_reference(FeatureReference(np.zeros((3, 8)), np.eye(8), threshold=2.0), model)
    touched(reference_path(model))
    assert load_predictor(model).reference.threshold == 2.0

    save_rule(UnsureRule(min_probability=0.9), model)
    ruled = load_predictor(model)
    assert ruled.rule.min_probability == 0.9 and load_predictor(model) is ruled
    rule_path(model).unlink()
    unruled = load_predictor(model)
    assert unruled is not ruled and unruled.rule == UnsureRule()

    touched(model)
    assert load_predictor(model) is not unruled


def test_cli_json_lists_every_file(lung_model, tmp_path, capsys) -> None:
    scan = scan_png(tmp_path / "scan.png")
    empty = tmp_path / "empty.png"
    empty.touch()
    status = main(["predict", str(scan), str(empty), "--model", str(lung_model), "--json"])
    records = json.loads(capsys.readouterr().out)
    assert status == 1
    assert records[0]["file"] == str(scan) and records[0]["label"] == "lung"
    assert set(records[0]["probabilities"]) == set(CLASSES) and records[0]["error"] is None
    assert records[1] == {"file": str(empty), "label": None, "error": "the file is empty (0 bytes)"}


def test_cli_prints_one_line_per_file(lung_model, tmp_path, capsys) -> None:
    scan = scan_png(tmp_path / "scan.png")
    assert main(["predict", str(scan), "--model", str(lung_model)]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith(f"{scan}: lung (") and "brain " in first


def test_cli_missing_model_is_one_line(tmp_path, capsys) -> None:
    status = main(["predict", str(scan_png(tmp_path / "scan.png")), "--model", "nope.keras"])
    err = capsys.readouterr().err
    assert status == 1 and err.startswith("medcnn: error: nope.keras: no such model file")
    assert len(err.strip().splitlines()) == 1
