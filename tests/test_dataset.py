"""The tf.data loader: shapes, dtypes, label order, seeded shuffling."""

from __future__ import annotations

import numpy as np
import pytest

from medcnn.config import CLASSES
from medcnn.data.build import build_dataset
from medcnn.data.dataset import label_indices, make_dataset, split_arrays
from medcnn.data.manifest import ManifestError, SplitError, read_manifest, read_pixels
from tests.helpers import synthetic_image


@pytest.fixture
def processed(write_source, settings, tmp_path):
    sources = [
        write_source(label, label, {f"{label}{i}": synthetic_image(100 * n + i) for i in range(20)})
        for n, label in enumerate(CLASSES)
    ]
    build_dataset(
        raw=write_source.raw,
        processed=tmp_path / "out",
        sources=sources,
        settings=settings,
        progress=False,
    )
    return tmp_path / "out"


def test_label_indices_follow_the_order_of_classes() -> None:
    assert list(label_indices(list(CLASSES))) == list(range(len(CLASSES)))
    assert list(label_indices([CLASSES[2], CLASSES[0], CLASSES[2]])) == [2, 0, 2]
    with pytest.raises(KeyError):
        label_indices(["heart"])


def test_split_arrays_shapes_dtypes_and_labels(processed) -> None:
    images, labels, frame = split_arrays("train", processed)
    assert images.shape == (len(frame), 32, 32, 1) and images.dtype == np.uint8
    assert labels.dtype == np.int32
    assert list(labels) == [CLASSES.index(label) for label in frame["label"]]
    assert set(frame["split"]) == {"train"}


def test_limit_keeps_every_class(processed) -> None:
    _, labels, _ = split_arrays("train", processed, limit=6)
    assert sorted(labels) == [0, 0, 1, 1, 2, 2]


def test_batches_are_seeded_and_reshuffled(processed) -> None:
    def order(seed: int) -> list[list[int]]:
        images, labels, _ = split_arrays("train", processed)
        dataset = make_dataset(images, labels, batch_size=8, shuffle=True, seed=seed)
        return [[int(y) for batch in dataset for y in batch[1]] for _ in range(2)]

    first_epoch, second_epoch = order(0)
    assert (first_epoch, second_epoch) == tuple(order(0))
    assert first_epoch != second_epoch  # reshuffled every epoch
    assert sorted(first_epoch) == sorted(second_epoch)
    images, labels, _ = split_arrays("val", processed)
    batch_images, batch_labels = next(iter(make_dataset(images, labels, batch_size=4)))
    assert batch_images.shape[1:] == (32, 32, 1) and batch_images.dtype.name == "uint8"
    assert batch_labels.dtype.name == "int32"


def test_unknown_split_is_a_clear_error(processed) -> None:
    with pytest.raises(SplitError, match="'holdout' is empty or unknown"):
        split_arrays("holdout", processed)


def test_a_missing_pixel_file_is_a_manifest_error_that_says_to_rebuild(processed) -> None:
    (pixels,) = processed.glob("pixels-*.npy")
    pixels.unlink()
    for read in (lambda: read_pixels(processed), lambda: split_arrays("train", processed)):
        with pytest.raises(ManifestError) as error:
            read()
        message = str(error.value)
        assert message.startswith(str(pixels)) and "\n" not in message
        assert "pixel file is missing; run `medcnn data build` again" in message


def test_a_missing_manifest_is_a_manifest_error_that_says_to_build(tmp_path) -> None:
    for read in (read_manifest, read_pixels):
        with pytest.raises(ManifestError, match="no manifest; run `medcnn data build` first"):
            read(tmp_path / "empty")
