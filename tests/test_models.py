"""The models: the original CNN layer by layer, the robust CNN, the transfer model, saving."""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import pytest

from medcnn.config import CLASSES
from medcnn.modeling import architectures as models
from medcnn.modeling.artifacts import ModelLoadError, load_model, make_card, save_model

CANONICAL = (None, 128, 128, 1)


def images(count: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (count, 128, 128, 1), dtype=np.uint8)


def test_original_cnn_is_the_original_architecture() -> None:
    model = models.original_cnn()
    layers = model.layers[1:]  # after the Input
    assert model.input_shape == CANONICAL and model.output_shape == (None, len(CLASSES))
    assert isinstance(layers[0], keras.layers.Resizing) and layers[0].output.shape[1:3] == (64, 64)
    assert isinstance(layers[1], keras.layers.Rescaling) and layers[1].scale == pytest.approx(
        1 / 255
    )
    for index, filters in enumerate((128, 64, 32, 16)):
        conv, pool = layers[2 + 2 * index], layers[3 + 2 * index]
        assert isinstance(conv, keras.layers.Conv2D)
        assert (conv.filters, conv.kernel_size, conv.padding) == (filters, (4, 4), "valid")
        assert conv.activation is keras.activations.relu
        assert isinstance(pool, keras.layers.MaxPooling2D) and pool.pool_size == (2, 2)
    flatten, dense, head = layers[10:]
    assert isinstance(flatten, keras.layers.Flatten)
    assert (dense.units, dense.activation) == (64, keras.activations.relu)
    assert (head.units, head.activation) == (3, keras.activations.softmax)
    assert len(layers) == 13


def test_robust_cnn_regularises_and_augments_only_while_training() -> None:
    model = models.robust_cnn(size=32, widths=(4, 8))
    kinds = {type(layer) for layer in model.layers}
    assert {keras.layers.BatchNormalization, keras.layers.Dropout} <= kinds
    assert all(
        layer.kernel_regularizer is not None
        for layer in model.layers
        if isinstance(layer, keras.layers.Conv2D | keras.layers.Dense)
    )
    batch = images(4)
    inference = model(batch, training=False).numpy()
    np.testing.assert_allclose(inference, model(batch, training=False).numpy(), rtol=1e-6)
    assert not np.allclose(model.get_layer("augmentation")(batch, training=True), batch)
    np.testing.assert_allclose(inference.sum(axis=1), 1.0, rtol=1e-5)


@pytest.fixture
def empty_keras_home(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    return tmp_path


@pytest.mark.parametrize("backbone", sorted(models.BACKBONES))
def test_missing_weights_are_one_clear_line(backbone, empty_keras_home) -> None:
    spec = models.BACKBONES[backbone]
    with pytest.raises(models.WeightsUnavailable) as error:
        models.transfer_model(backbone, size=32)
    message = str(error.value)
    assert "\n" not in message
    assert str(empty_keras_home / "models" / spec.weights_file) in message
    assert "copy" in message and "KERAS_HOME" in message


def test_unknown_backbone_is_named() -> None:
    with pytest.raises(ValueError, match="unknown backbone 'vgg'"):
        models.transfer_model("vgg")


needs_mobilenet = pytest.mark.skipif(
    not (models.keras_cache() / models.BACKBONES["mobilenet_v2"].weights_file).is_file(),
    reason="MobileNetV2 ImageNet weights not in the Keras cache (make setup copies them)",
)


@needs_mobilenet
def test_transfer_model_nests_a_frozen_pretrained_base() -> None:
    model = models.transfer_model(size=32)
    base = models.base_model(model)
    assert model.input_shape == CANONICAL and model.output_shape == (None, len(CLASSES))
    assert not base.trainable and base.output_shape[-1] == 576  # block 13's expansion
    reference = keras.applications.MobileNetV2(
        include_top=False, weights=None, input_shape=(32, 32, 3)
    )
    reference.load_weights(models.cached_weights(models.BACKBONES["mobilenet_v2"]))
    np.testing.assert_array_equal(
        base.get_layer("Conv1").kernel.numpy(), reference.get_layer("Conv1").kernel.numpy()
    )
    unfrozen = models.unfreeze_top(model, 0.3)
    trainable = [layer for layer in base.layers if layer.trainable]
    assert unfrozen == len(trainable) > 0
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in trainable)


@needs_mobilenet
def test_fine_tuning_moves_only_the_unfrozen_top_of_the_base() -> None:
    model = models.transfer_model(size=32)
    models.unfreeze_top(model, 0.3)
    base = models.base_model(model)
    before = {layer.name: [w.numpy().copy() for w in layer.weights] for layer in base.layers}
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss="sparse_categorical_crossentropy")
    model.fit(images(8), np.arange(8) % len(CLASSES), batch_size=8, epochs=1, verbose=0)
    moved = {
        layer.name
        for layer in base.layers
        if any(
            not np.array_equal(old, new.numpy())
            for old, new in zip(before[layer.name], layer.weights, strict=True)
        )
    }
    trainable = {layer.name for layer in base.layers if layer.trainable and layer.weights}
    assert moved and moved <= trainable  # frozen layers and every BatchNorm statistic kept


def test_save_and_load_keep_model_and_card(tmp_path) -> None:
    model = models.original_cnn()
    metrics = {"test": {"accuracy": 0.5, "macro_f1": 0.4, "images": 10}}
    card = make_card("original_cnn", seed=3, metrics=metrics, processed=tmp_path)
    path = save_model(model, tmp_path / "seed.keras", card)
    loaded = load_model(path)
    batch = images(3)
    np.testing.assert_allclose(loaded.predict(batch, verbose=0), model.predict(batch, verbose=0))
    saved = json.loads(path.with_suffix(".json").read_text())
    assert loaded.medcnn_card == saved
    assert saved["classes"] == list(CLASSES) and saved["input_shape"] == [128, 128, 1]
    assert saved["seed"] == 3 and saved["metrics"] == metrics
    assert {"tensorflow", "keras"} <= set(saved["versions"]) and saved["date"]


def small_model(size: int = 128, outputs: int = len(CLASSES)) -> keras.Model:
    inputs = keras.Input((size, size, 1))
    pooled = keras.layers.GlobalAveragePooling2D()(inputs)
    return keras.Model(inputs, keras.layers.Dense(outputs, activation="softmax")(pooled))


def test_a_card_with_another_class_order_is_refused(tmp_path) -> None:
    path = save_model(small_model(), tmp_path / "m.keras", make_card("m", 0, processed=tmp_path))
    card = json.loads(path.with_suffix(".json").read_text())
    card["classes"] = list(reversed(CLASSES))
    path.with_suffix(".json").write_text(json.dumps(card))
    with pytest.raises(ModelLoadError) as error:
        load_model(path)
    message = str(error.value)
    assert "\n" not in message and message.startswith(str(path.with_suffix(".json")))
    assert f"predicts {list(reversed(CLASSES))}, medcnn expects {list(CLASSES)}" in message


@pytest.mark.parametrize(
    ("size", "outputs", "takes", "gives"),
    [(64, 3, "(None, 64, 64, 1)", "(None, 3)"), (128, 2, "(None, 128, 128, 1)", "(None, 2)")],
    ids=["input-64px", "two-classes"],
)
def test_a_model_of_another_shape_is_refused(tmp_path, size, outputs, takes, gives) -> None:
    card = make_card("m", 0, processed=tmp_path)  # says 128 × 128 × 1 → three classes
    path = save_model(small_model(size, outputs), tmp_path / "m.keras", card)
    with pytest.raises(ModelLoadError) as error:
        load_model(path)
    message = str(error.value)
    assert "\n" not in message and message.startswith(str(path))
    assert f"model takes {takes} and gives {gives}" in message
    assert "expected (None, 128, 128, 1) → (None, 3)" in message and "make model" in message


def test_a_card_promising_another_input_is_refused(tmp_path) -> None:
    card = make_card("m", 0, processed=tmp_path) | {"input_shape": [64, 64, 1]}
    path = save_model(small_model(), tmp_path / "m.keras", card)
    with pytest.raises(ModelLoadError, match=r"expected \(None, 64, 64, 1\)"):
        load_model(path)


def test_corrupt_model_file_is_one_clear_line(tmp_path) -> None:
    path = save_model(
        models.original_cnn(), tmp_path / "m.keras", make_card("m", 0, processed=tmp_path)
    )
    path.write_bytes(path.read_bytes()[:2000])
    with pytest.raises(ModelLoadError) as error:
        load_model(path)
    assert "\n" not in str(error.value) and str(path) in str(error.value)
    assert "make model" in str(error.value)
