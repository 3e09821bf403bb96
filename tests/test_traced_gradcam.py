"""The traced Grad-CAM gives the maps of `grad_cam`, on every kind of model, in one batch."""

from __future__ import annotations

import numpy as np
import pytest

from medcnn.explain.gradcam import grad_cam, overlay
from medcnn.explain.traced import GradCam
from medcnn.imaging.readers import DecodedImage
from medcnn.inference.predictor import Predictor
from medcnn.modeling.forward import Forward
from tests.helpers import tiny_model
from tests.test_explain import images, model  # noqa: F401  (fixtures)


def test_batched_traced_maps_match_grad_cam(model, images) -> None:  # noqa: F811
    classes = [0, 1, 2, 1]
    traced = GradCam(model)(images, classes)
    expected = np.stack(
        [grad_cam(model, image, c) for image, c in zip(images, classes, strict=True)]
    )
    assert traced.shape == expected.shape and traced.dtype == np.float32
    np.testing.assert_allclose(traced, expected, atol=1e-4)


def test_the_predictor_overlay_is_the_grad_cam_of_the_top_class(images) -> None:  # noqa: F811
    predictor = Predictor(tiny_model(favour="lung"))
    pixels = images[0, ..., 0]
    shown, problems = predictor.heatmap_overlay(pixels, 1)
    reference = grad_cam(predictor.model, images[0].astype("float32"), 1)
    assert not problems
    np.testing.assert_allclose(shown, overlay(pixels, reference), atol=1)


def test_a_model_without_convolution_gets_a_note_not_an_error() -> None:
    predictor = Predictor(tiny_model(convolution=False))
    shown, problems = predictor.heatmap_overlay(np.zeros((128, 128), np.uint8), 0)
    assert shown is None and problems[0].startswith("no Grad-CAM heatmap for this model")
    with pytest.raises(ValueError, match="no convolution"):
        GradCam(predictor.model)


def test_one_pass_answers_what_forward_and_grad_cam_of_the_top_class_give(
    model,  # noqa: F811
    images,  # noqa: F811
) -> None:
    features, probabilities, maps, generic = Predictor(model).explained_answer(images[..., 0])
    assert generic is None  # no novelty reference: no generic features computed
    expected_features, expected_probabilities = Forward(model)(images)
    np.testing.assert_allclose(features, expected_features, atol=1e-5)
    np.testing.assert_allclose(probabilities, expected_probabilities, atol=1e-6)
    top = expected_probabilities.argmax(axis=1)
    expected = np.stack([grad_cam(model, image, c) for image, c in zip(images, top, strict=True)])
    np.testing.assert_allclose(maps, expected, atol=1e-4)


def test_classify_shows_the_grad_cam_of_its_answer_computed_in_the_same_pass(images) -> None:  # noqa: F811
    predictor = Predictor(tiny_model(favour="brain"))
    pixels = images[2, ..., 0]
    prediction = predictor.classify(DecodedImage(pixels, "png", 128, 128), "x")
    top = ["brain", "lung", "other"].index(prediction.top_class)
    reference = grad_cam(predictor.model, images[2].astype("float32"), top)
    np.testing.assert_allclose(prediction.overlay, overlay(pixels, reference), atol=1)
    unexplained = predictor.classify(DecodedImage(pixels, "png", 128, 128), "x", explain=False)
    assert unexplained.probabilities == pytest.approx(prediction.probabilities, abs=1e-6)
    assert unexplained.overlay is None and unexplained.label == prediction.label
