"""The traced Grad-CAM gives the maps of `grad_cam`, on every kind of model, in one batch."""

from __future__ import annotations

import numpy as np
import pytest

from medcnn.explain.gradcam import grad_cam, overlay
from medcnn.explain.traced import GradCam
from medcnn.inference.predictor import Predictor
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
