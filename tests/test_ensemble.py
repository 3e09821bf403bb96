"""Merged models answer with the mean of their members' calibrated logits, as one model."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from scipy.special import softmax

from medcnn.evaluation.calibration import tempered_log_probabilities
from medcnn.explain.gradcam import grad_cam
from medcnn.modeling.ensemble import members_of, merge
from medcnn.modeling.forward import Forward
from tests.test_explain import SIZE, functional_cnn, images, transfer_model  # noqa: F401


@pytest.fixture
def members() -> list[keras.Model]:
    """Built anew for each merge: merging calls a member's layers again."""
    keras.utils.set_random_seed(1)
    return [transfer_model(), functional_cnn()]


def test_the_merged_model_answers_with_the_mean_calibrated_logits(members, images) -> None:  # noqa: F811
    temperatures = [0.7, 1.6]
    merged = merge(members, temperatures)
    expected = softmax(
        np.mean(
            [
                tempered_log_probabilities(Forward(m)(images)[1].astype(np.float64), t)
                for m, t in zip(members, temperatures, strict=True)
            ],
            axis=0,
        ),
        axis=1,
    )
    features, probabilities = Forward(merged)(images)
    np.testing.assert_allclose(probabilities, expected, atol=1e-5)
    widths = [Forward(m)(images[:1])[0].shape[1] for m in members]
    assert features.shape == (len(images), sum(widths))  # the members' features side by side
    assert [m.name for m in members_of(merged)] == ["member_0", "member_1"]
    assert members_of(members[0]) == []


def test_a_merged_model_survives_saving_and_safe_loading(members, images, tmp_path) -> None:  # noqa: F811
    merged = merge(members, [1.0, 1.0])
    merged.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras", compile=False, safe_mode=True)
    np.testing.assert_allclose(Forward(loaded)(images)[1], Forward(merged)(images)[1], atol=1e-6)
    assert len(members_of(loaded)) == 2


def test_a_model_merged_with_its_copy_explains_as_the_model_does(members, images) -> None:  # noqa: F811
    expected = [grad_cam(members[0], images[0], class_index) for class_index in range(3)]
    copy = transfer_model()  # built anew: a clone would share the nested base
    copy.set_weights(members[0].get_weights())
    twice = merge([members[0], copy], [1.0, 1.0])
    for class_index in range(3):
        np.testing.assert_allclose(
            grad_cam(twice, images[0], class_index), expected[class_index], atol=1e-4
        )


def test_merging_wants_a_temperature_per_member_and_a_dense_head(members) -> None:
    with pytest.raises(ValueError, match="one temperature each"):
        merge(members, [1.0])
    with pytest.raises(ValueError, match="two members or more"):
        merge(members[:1], [1.0])
    inputs = keras.Input((SIZE, SIZE, 1))
    no_head = keras.Model(inputs, keras.layers.Flatten()(inputs))
    with pytest.raises(ValueError, match="does not end in a Dense layer"):
        merge([members[0], no_head], [1.0, 1.0])
