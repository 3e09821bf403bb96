"""Grad-CAM on every kind of model medcnn trains, the overlay, and the randomization check."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from medcnn.explain.gradcam import (
    cascade_steps,
    grad_cam,
    grid_size,
    last_conv_layer,
    overlay,
    overlays,
    randomization_check,
    rank_correlation,
)
from medcnn.modeling.ensemble import merge

SIZE = 128


def sequential_cnn() -> keras.Model:
    """Like the original CNN: a Sequential model without an Input, never called."""
    return keras.Sequential(
        [
            keras.layers.Rescaling(1 / 255),
            keras.layers.Conv2D(4, 3, activation="relu"),
            keras.layers.MaxPooling2D(4),
            keras.layers.Conv2D(6, 3, activation="relu", name="last_conv"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(3, activation="softmax"),
        ],
        name="sequential_cnn",
    )


def functional_cnn() -> keras.Model:
    """A robust CNN: augmentation, BatchNorm and Dropout around the convolutions."""
    inputs = keras.Input((SIZE, SIZE, 1))
    x = keras.layers.RandomFlip("horizontal")(inputs)
    x = keras.layers.Rescaling(1 / 255)(x)
    x = keras.layers.Conv2D(4, 3, padding="same", name="first_conv")(x)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.ReLU()(x)
    x = keras.layers.MaxPooling2D(4)(x)
    x = keras.layers.Conv2D(6, 3, padding="same", activation="relu", name="second_conv")(x)
    x = keras.layers.Dropout(0.3)(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(3, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="functional_cnn")


def he_initialized(base: keras.Model) -> keras.Model:
    """He-normal convolution kernels: untrained MobileNetV2 otherwise fades to ~1e-11."""
    rng = np.random.default_rng(0)
    for layer in base.layers:
        if isinstance(layer, keras.layers.Conv2D | keras.layers.DepthwiseConv2D):
            shape = tuple(layer.kernel.shape)
            depthwise = isinstance(layer, keras.layers.DepthwiseConv2D)
            fan_in = np.prod(shape[:2] if depthwise else shape[:-1])
            layer.kernel.assign(rng.normal(0, np.sqrt(2 / fan_in), shape).astype("float32"))
    return base


def transfer_model() -> keras.Model:
    """A pretrained-style base nested as one layer after nested augmentation, fed gray
    copied to RGB."""
    base = he_initialized(
        keras.applications.MobileNetV2(
            input_shape=(64, 64, 3), include_top=False, weights=None, alpha=0.35
        )
    )
    inputs = keras.Input((SIZE, SIZE, 1))
    x = keras.layers.Resizing(64, 64)(inputs)
    x = keras.Sequential([keras.layers.RandomFlip("horizontal")], name="augmentation")(x)
    x = keras.layers.Rescaling(1 / 127.5, offset=-1)(x)
    x = keras.layers.Concatenate()([x, x, x])
    x = base(x, training=False)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dropout(0.2)(x)
    outputs = keras.layers.Dense(3, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="transfer")


def loaded_transfer_model(tmp_path_factory: pytest.TempPathFactory) -> keras.Model:
    path = tmp_path_factory.mktemp("model") / "transfer.keras"
    transfer_model().save(path)
    return keras.saving.load_model(path, compile=False, safe_mode=True)


def ensemble(_=None) -> keras.Model:
    """A transfer model and a functional CNN merged (`modeling.ensemble`)."""
    return merge([transfer_model(), functional_cnn()], [1.0, 2.0])


def loaded_ensemble(tmp_path_factory: pytest.TempPathFactory) -> keras.Model:
    path = tmp_path_factory.mktemp("model") / "ensemble.keras"
    ensemble().save(path)
    return keras.saving.load_model(path, compile=False, safe_mode=True)


LAST_CONV = {
    "sequential_cnn": "last_conv",
    "functional_cnn": "second_conv",
    "transfer": "Conv_1",
    "ensemble": "second_conv",  # of its last member
}
BUILDERS = {
    "sequential": lambda _: sequential_cnn(),
    "functional": lambda _: functional_cnn(),
    "transfer": lambda _: transfer_model(),
    "transfer-loaded": loaded_transfer_model,
    "ensemble": ensemble,
    "ensemble-loaded": loaded_ensemble,
}


@pytest.fixture(scope="module", params=list(BUILDERS))
def model(request, tmp_path_factory) -> keras.Model:
    keras.utils.set_random_seed(0)
    return BUILDERS[request.param](tmp_path_factory)


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    """Bright blobs on black at different places: a structure for the maps to follow."""
    rng = np.random.default_rng(0)
    rows, cols = np.mgrid[0:SIZE, 0:SIZE]
    batch = []
    for centre in rng.integers(24, SIZE - 24, (4, 2)):
        blob = 255 * np.exp(-((rows - centre[0]) ** 2 + (cols - centre[1]) ** 2) / 300)
        batch.append(np.clip(blob + rng.normal(0, 10, blob.shape), 0, 255))
    return np.stack(batch).astype(np.uint8)[..., np.newaxis]


def test_last_conv_layer_is_found_also_inside_a_nested_base(model) -> None:
    assert last_conv_layer(model) == LAST_CONV[model.name]


def test_heatmap_shape_range_and_dtype(model, images) -> None:
    for image in (images[0], images[:1]):
        heatmap = grad_cam(model, image)
        assert heatmap.shape == (SIZE, SIZE) and heatmap.dtype == np.float32
        assert heatmap.min() >= 0.0 and heatmap.max() <= 1.0


def test_heatmap_depends_on_the_class(model, images) -> None:
    maps = [grad_cam(model, images[0], class_index=k) for k in range(3)]
    assert any(not np.allclose(maps[0], other, atol=1e-3) for other in maps[1:])


def test_default_class_is_the_predicted_one(model, images) -> None:
    predicted = int(np.argmax(model.predict(images[:1], verbose=0)))
    np.testing.assert_allclose(
        grad_cam(model, images[0]), grad_cam(model, images[0], class_index=predicted), atol=1e-6
    )


def test_any_layer_can_be_chosen_by_name() -> None:
    keras.utils.set_random_seed(0)
    functional = functional_cnn()
    image = np.full((SIZE, SIZE, 1), 100, np.uint8)
    assert grad_cam(functional, image, layer_name="first_conv").shape == (SIZE, SIZE)
    transfer = transfer_model()
    assert grad_cam(transfer, image, layer_name="block_3_expand").shape == (SIZE, SIZE)
    with pytest.raises(ValueError, match="no layer named"):
        grad_cam(functional, image, layer_name="missing")


def test_the_grid_size_is_that_of_the_layer_also_inside_a_nested_base() -> None:
    keras.utils.set_random_seed(0)
    transfer = transfer_model()  # works at 64 px: strides 32 (Conv_1) and 4 (block_3)
    assert grid_size(transfer) == (2, 2)
    assert grid_size(transfer, "block_3_expand") == (16, 16)


def test_overlay_is_rgb_uint8_and_blends() -> None:
    image = np.zeros((SIZE, SIZE, 1), np.uint8)
    heatmap = np.zeros((SIZE, SIZE), np.float32)
    heatmap[:, SIZE // 2 :] = 1.0
    picture = overlay(image, heatmap, alpha=0.5)
    assert picture.shape == (SIZE, SIZE, 3) and picture.dtype == np.uint8
    hot, cold = picture[:, -1].mean(axis=0), picture[:, 0].mean(axis=0)
    assert hot[0] > cold[0] and hot[2] < cold[2]  # red where the map is high, blue where low
    assert overlay(image, heatmap[::4, ::4]).shape == (SIZE, SIZE, 3)  # coarse maps resized
    np.testing.assert_array_equal(overlay(image + 200, heatmap, alpha=0.0)[..., 0], 200)


def test_batch_overlays_explain_the_predicted_or_given_classes(model, images) -> None:
    blended, classes = overlays(model, images[:2])
    assert blended.shape == (2, SIZE, SIZE, 3) and blended.dtype == np.uint8
    np.testing.assert_array_equal(classes, np.argmax(model.predict(images[:2], verbose=0), -1))
    expected = overlay(images[0], grad_cam(model, images[0], class_index=2))
    given, chosen = overlays(model, images[:1], class_indices=[2])
    assert list(chosen) == [2]
    np.testing.assert_allclose(given[0], expected, atol=1)


def test_rank_correlation() -> None:
    ramp = np.linspace(0, 1, 100)
    assert rank_correlation(ramp, ramp**3) == pytest.approx(1.0)
    assert rank_correlation(ramp, 1 - ramp) == pytest.approx(-1.0)
    assert rank_correlation(ramp, np.zeros(100)) == 0.0


@pytest.mark.parametrize("cascading", [True, False])
def test_randomized_weights_change_the_maps(cascading, images) -> None:
    keras.utils.set_random_seed(0)
    model = functional_cnn()
    model.get_layer("first_conv").trainable = False  # frozen weights are randomized too
    before = model.get_weights()
    steps = randomization_check(model, images, cascading=cascading)
    assert len(steps) == (4 if cascading else 1)  # dense, conv, batchnorm, conv
    if cascading:
        assert [step["randomized"] for step in steps][::3] == ["probabilities", "first_conv"]
    assert all(len(step["per_image"]) == len(images) for step in steps)
    assert steps[-1]["spearman"] < 0.5
    for kept, now in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(kept, now)  # the original model is left alone


def test_a_cascade_randomizes_a_named_block_in_one_step() -> None:
    names = [
        "probabilities",
        "Conv_1_bn",
        "block_16_project_BN",
        "block_16_project",
        "block_15_project",
        "conv2_block1_1_conv",
        "conv2_block1_2_conv",
        "block1a_expand_conv",
        "expanded_conv_project",
        "Conv1",
    ]
    layers = [keras.layers.Dense(1, name=name) for name in names]
    steps = cascade_steps(layers)
    assert [name for name, _ in steps] == [
        "probabilities",
        "Conv_1_bn",
        "block_16",
        "block_15",
        "conv2_block1",
        "block1a",
        "expanded_conv",
        "Conv1",
    ]
    assert [layer.name for layer in steps[2][1]] == names[2:4]
    assert sum(len(group) for _, group in steps) == len(layers)


def test_a_cascade_randomizes_the_same_block_of_every_ensemble_member_in_one_step() -> None:
    member = ["Conv_1", "block_16_project", "block_15_project", "Conv1"]
    layers = [keras.layers.Dense(1, name=name) for name in ["probabilities", *member, *member]]
    steps = cascade_steps(layers)
    assert [name for name, _ in steps] == [
        "probabilities",
        "Conv_1",
        "block_16",
        "block_15",
        "Conv1",
    ]
    assert all(len(group) == 2 for _, group in steps[1:])


def test_an_ensemble_is_randomized_member_by_member_at_their_own_last_convolutions(
    images,
) -> None:
    keras.utils.set_random_seed(0)
    model = ensemble()
    before = model.get_weights()
    steps = randomization_check(model, images, cascading=False)
    assert len(steps) == 1 and len(steps[0]["per_image"]) == len(images)
    assert np.isfinite(steps[0]["spearman"])
    for kept, now in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(kept, now)


def test_model_ending_in_a_softmax_layer_uses_log_probabilities(images) -> None:
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((SIZE, SIZE, 1)),
            keras.layers.Conv2D(4, 5, strides=4, activation="relu"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(3),
            keras.layers.Softmax(),
        ]
    )
    maps = [grad_cam(model, images[0], class_index=k) for k in range(3)]
    assert all(m.shape == (SIZE, SIZE) and 0 <= m.min() <= m.max() <= 1 for m in maps)
    assert any(not np.allclose(maps[0], other, atol=1e-3) for other in maps[1:])
