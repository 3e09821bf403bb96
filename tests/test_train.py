"""Training: a short run learns, selection and weights behave, smoke runs save a carded model."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from medcnn.config import CLASSES
from medcnn.data.build import BuildSettings, build_dataset
from medcnn.modeling.artifacts import load_model, read_card
from medcnn.modeling.ensemble import members_of
from medcnn.modeling.features import load_reference
from medcnn.training import run as train
from medcnn.training.fit import distribution_strategy, fit_recipe, sample_weights
from medcnn.training.recipes import RECIPES, RELEASE_MEMBERS, Phase, Recipe, release_networks
from medcnn.training.run import train_model
from tests.helpers import synthetic_image
from tests.test_models import needs_mobilenet


def striped(count: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three easy classes: dark, bright, and half-and-half images with noise."""
    rng = np.random.default_rng(seed)
    labels = np.arange(count, dtype=np.int32) % 3
    images = rng.integers(0, 60, (count, 128, 128, 1)).astype(np.uint8)
    images[labels == 1] += 150
    images[labels == 2, :, 64:] += 150
    return images, labels


def test_short_training_run_lowers_the_loss(tmp_path) -> None:
    recipe = Recipe(
        "tiny",
        "tiny robust CNN",
        "robust_cnn",
        size=32,
        phases=(Phase(4, 3e-3),),
        batch_size=16,
        early_stopping=False,
        options={"widths": (4, 8)},
    )
    fit = fit_recipe(recipe, striped(96), striped(30, seed=1), tmp_path, verbose=0)
    assert list(fit.history["epoch"]) == [1, 2, 3, 4]
    assert fit.history["loss"].iloc[-1] < fit.history["loss"].iloc[0]
    assert fit.best_epoch == int(fit.history["epoch"][fit.history["val_loss"].idxmin()])
    assert (tmp_path / "tiny.best.weights.h5").is_file()
    assert fit.images_per_second > 0 and not fit.model.compiled


def test_weights_balance_classes_and_temper_source_sizes() -> None:
    labels = np.array([0, 0, 0, 1, 2, 2])
    assert sample_weights(labels) == pytest.approx([2 / 3, 2 / 3, 2 / 3, 2.0, 1.0, 1.0])
    assert sample_weights(np.array([0, 1, 2])) == pytest.approx([1.0, 1.0, 1.0])
    labels = np.zeros(5, dtype=np.int32)
    rows = pd.DataFrame({"source": ["big"] * 4 + ["small"], "modality": ["XR"] * 5})
    weights = sample_weights(labels, rows, source_power=0.5)
    assert weights.sum() == pytest.approx(5.0)
    assert weights[4] / weights[0] == pytest.approx(2.0)  # sqrt(4 / 1)


def test_modality_balancing_lifts_a_rare_modality_within_its_class() -> None:
    labels = np.array([0] * 10 + [1] * 2)
    rows = pd.DataFrame(
        {
            "source": ["xr1"] * 4 + ["xr2"] * 4 + ["ct"] * 2 + ["mri"] * 2,
            "modality": ["XR"] * 8 + ["CT"] * 2 + ["MRI"] * 2,
        }
    )
    plain = sample_weights(labels, rows)
    balanced = sample_weights(labels, rows, modality_power=0.5)
    assert balanced[labels == 0].sum() == pytest.approx(plain[labels == 0].sum())
    assert balanced[8] / balanced[0] == pytest.approx(2.0)  # sqrt(8 X-rays / 2 CT), not sources
    assert balanced[10:] == pytest.approx(plain[10:])  # one modality: nothing to balance


def test_one_device_uses_the_default_strategy() -> None:
    if len(tf.config.list_logical_devices("GPU")) > 1:
        pytest.skip("several GPUs: MirroredStrategy applies")
    assert distribution_strategy() is tf.distribute.get_strategy()


def test_the_original_cnn_trains_three_epochs_at_64_px_without_early_stopping(tmp_path) -> None:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (12, 128, 128, 1), dtype=np.uint8)
    labels = np.arange(12) % 3
    fit = fit_recipe(RECIPES["original_cnn"], (images, labels), (images, labels), tmp_path)
    assert len(fit.history) == 3
    assert fit.model.get_layer("resize").output.shape[1:3] == (64, 64)


@pytest.fixture
def processed(write_source, tmp_path):
    """A tiny 128 px dataset with train/val/test and one external source."""
    sources = [
        write_source(label, label, {f"{label}{i}": synthetic_image(100 * n + i) for i in range(20)})
        for n, label in enumerate(CLASSES)
    ]
    sources.append(
        write_source("far", "other", {f"far{i}": synthetic_image(900 + i) for i in range(6)})
    )
    settings = BuildSettings(
        split_fractions={"train": 0.6, "val": 0.2, "test": 0.2}, external_sources=("far",)
    )
    out = tmp_path / "processed"
    build_dataset(
        raw=write_source.raw, processed=out, sources=sources, settings=settings, progress=False
    )
    return out


def test_smoke_run_saves_a_model_with_its_card(processed, tmp_path) -> None:
    run = train_model(
        "original_cnn",
        seed=1,
        out=tmp_path / "seed.keras",
        smoke=True,
        processed=processed,
        checkpoints=tmp_path / "checkpoints",
        reference=True,
    )
    card = json.loads((tmp_path / "seed.json").read_text())
    assert set(card["metrics"]) == {"val", "test", "external"}
    assert all(0 <= s["macro_f1"] <= 1 for s in card["metrics"].values())
    assert card["manifest_sha256"] and card["seed"] == 1
    assert card["training"]["smoke"] and card["training"]["epochs_run"] == 1
    assert card["training"]["train_images_per_second"] > 0
    assert len(card["history"]["val_loss"]) == 1
    assert (tmp_path / "checkpoints" / "original_cnn.best.weights.h5").is_file()
    reference = load_reference(run.path)
    assert reference is not None and np.isfinite(reference.threshold)
    loaded = load_model(run.path)
    assert loaded.count_params() == run.model.count_params()


def test_under_a_training_limit_training_watches_part_of_val_and_scores_all_of_it(
    processed, tmp_path
) -> None:
    run = train_model(
        "original_cnn",
        out=tmp_path / "limited.keras",
        smoke=False,
        processed=processed,
        checkpoints=tmp_path / "checkpoints",
        train_limit=24,
    )
    training, val = run.card["training"], run.card["metrics"]["val"]
    assert training["train_images"] == 24
    assert training["val_images_watched"] == round(24 * train.WATCHED_VAL_SHARE) == 6
    assert val["images"] > training["val_images_watched"]
    watched = train.watched_val({"val": None}, False, processed, 0, 24)
    assert np.bincount(watched[1], minlength=len(CLASSES)).tolist() == [2, 2, 2]
    whole = ("all", "of", "val")
    assert train.watched_val({"val": whole}, False, processed, 0, None) is whole
    assert train.watched_val({"val": whole}, True, processed, 0, 24) is whole


def test_cli_reports_missing_weights_in_one_line(processed, tmp_path, monkeypatch, capsys) -> None:
    from medcnn.cli import main

    monkeypatch.setenv("MEDCNN_DATA_DIR", str(processed.parent))
    monkeypatch.setenv("MEDCNN_SMOKE", "1")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "empty-keras-home"))
    assert main(["train", "mobilenet_v2", "--out", str(tmp_path / "models")]) == 1
    error = capsys.readouterr().err.strip()
    assert error.startswith("medcnn: error: MobileNetV2 ImageNet weights not found")
    assert "\n" not in error


def test_saved_model_is_reused_only_while_its_recipe_and_data_match(
    processed, tmp_path, monkeypatch
) -> None:
    monkeypatch.setenv("MEDCNN_DATA_DIR", str(processed.parent))
    monkeypatch.setenv("MEDCNN_SMOKE", "1")
    monkeypatch.setattr(train, "runs_dir", lambda: tmp_path / "runs")
    first = train.trained_model("original_cnn", seed=2)
    saved = tmp_path / "runs" / "original_cnn.keras"
    assert saved.is_file()

    def no_training(*args, **kwargs):
        raise AssertionError("trained again")

    monkeypatch.setattr(train, "train_model", no_training)
    reused = train.trained_model("original_cnn", seed=2)
    np.testing.assert_array_equal(reused.get_weights()[0], first.get_weights()[0])
    with pytest.raises(AssertionError, match="trained again"):
        train.trained_model("original_cnn", seed=3)
    card_file = tmp_path / "runs" / "original_cnn.json"
    card = json.loads(card_file.read_text())
    card["training"]["phases"][0]["learning_rate"] = 0.5
    card_file.write_text(json.dumps(card))
    with pytest.raises(AssertionError, match="trained again"):
        train.trained_model("original_cnn", seed=2)


@needs_mobilenet
def test_the_release_merges_its_members_and_reuses_them(processed, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("MEDCNN_DATA_DIR", str(processed.parent))
    monkeypatch.setenv("MEDCNN_SMOKE", "1")
    monkeypatch.setattr(train, "runs_dir", lambda: tmp_path / "runs")

    def no_folds():
        raise FileNotFoundError("no fold results")

    monkeypatch.setattr(train, "read_results", no_folds)
    run = train.train_release(seed=1, out=tmp_path / "release.keras", verbose=0)
    card = read_card(run.path)
    assert train.release_matches(card, 1) and not train.release_matches(card, 2)
    members = card["training"]["members"]
    networks = [(member["recipe"], member["seed"]) for member in members]
    under_seeds_2_and_3 = [(name, seed) for name in RELEASE_MEMBERS for seed in (2, 3)]
    assert networks == list(release_networks(1)) == under_seeds_2_and_3
    assert all(member["temperature"] > 0 for member in members)
    assert set(card["metrics"]) == {"val", "test", "external"}
    loaded = load_model(run.path)
    assert len(members_of(loaded)) == len(networks)
    images = np.stack(
        [np.asarray(synthetic_image(seed, (128, 128)))[..., None] for seed in range(2)]
    )
    np.testing.assert_allclose(
        loaded.predict(images, verbose=0), run.model.predict(images, verbose=0), atol=1e-5
    )
    assert load_reference(run.path) is not None

    def no_training(*args, **kwargs):
        raise AssertionError("trained again")

    monkeypatch.setattr(train, "train_model", no_training)
    again = train.train_release(seed=1, out=tmp_path / "again.keras", verbose=0)
    assert again.card["training"]["members"][0]["seconds"] == members[0]["seconds"]
