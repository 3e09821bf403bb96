"""Prediction latency of one image and of a volume, and throughput of a batch.

medcnn's `Predictor.forward` runs a `tf.function` traced once; Keras' `model.predict`
sets up a data adapter and a progress loop on every call. The Grad-CAM of `classify` is
traced once too (`medcnn.explain.traced`); the previous path, `grad_cam`, assembles a Keras
gradient model per call and is timed beside it. A volume of real test-split slices, written
as a `.nii.gz`, is answered end to end from the file, against the previous path's cost of
one classify-with-Grad-CAM per slice. All paths run the same model on the same images.
The out-of-distribution distances of a batch (`FeatureReference.distances`, one matrix
product) are timed against the same quadratic form written as a single `einsum`.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import nibabel as nib
import numpy as np
from PIL import Image

from medcnn.data.dataset import split_arrays
from medcnn.explain.gradcam import grad_cam, overlay
from medcnn.imaging.readers import DecodedImage
from medcnn.inference.predictor import Predictor
from medcnn.inference.study import predict_path
from medcnn.modeling.features import FeatureReference

IMAGES = 120
BATCH = 128
BATCH_REPEATS = 7
VOLUME_SLICES = 100
VOLUME_SIDE = 512
VOLUME_REPEATS = 3
DISTANCE_IMAGES = 32


def percentiles(call: Callable[[np.ndarray], object], images: np.ndarray) -> dict:
    """p50 and p95 milliseconds of `call` on each image alone, after one warm-up call."""
    call(images[0])
    times = []
    for image in images:
        start = time.perf_counter()
        call(image)
        times.append(time.perf_counter() - start)
    p50, p95 = np.percentile(np.array(times) * 1e3, [50, 95])
    return {"p50_ms": round(float(p50), 2), "p95_ms": round(float(p95), 2)}


def batch_rate(call: Callable[[np.ndarray], object], batch: np.ndarray, repeats: int) -> float:
    """Images per second of `call` on the batch: median of `repeats` calls after a warm-up."""
    call(batch)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call(batch)
        times.append(time.perf_counter() - start)
    return round(len(batch) / float(np.median(times)), 1)


def prediction_latency(model_path: Path, processed: Path, limit: int | None = None) -> dict:
    """Single-image p50/p95 and batch images/s of a saved model, medcnn against model.predict."""
    predictor = Predictor.from_file(model_path)
    model = predictor.model
    images, _, _ = split_arrays("test", processed, limit=limit or IMAGES)
    one = {
        "medcnn_forward": lambda image: predictor.forward(image[np.newaxis]),
        "keras_predict": lambda image: model.predict(image[np.newaxis], verbose=0),
        "medcnn_classify_with_gradcam": lambda image: predictor.classify(
            DecodedImage(image[..., 0], "benchmark", *image.shape[:2]), "benchmark"
        ),
        "medcnn_classify_with_eager_gradcam": lambda image: eager_answer(predictor, image),
    }
    result: dict = {"model": model_path.name, "model_name": model.name, "images": len(images)}
    result["single_image"] = {name: percentiles(call, images) for name, call in one.items()}
    single = result["single_image"]
    forward = single["medcnn_forward"]["p50_ms"]
    result["p50_ratio_keras_predict_over_medcnn"] = round(
        single["keras_predict"]["p50_ms"] / forward, 2
    )
    result["p50_ratio_classify_with_gradcam_over_forward"] = round(
        single["medcnn_classify_with_gradcam"]["p50_ms"] / forward, 2
    )
    result["p50_ratio_eager_over_traced_gradcam"] = round(
        single["medcnn_classify_with_eager_gradcam"]["p50_ms"]
        / single["medcnn_classify_with_gradcam"]["p50_ms"],
        2,
    )
    result["volume"] = volume_latency(
        model_path, images, single["medcnn_classify_with_eager_gradcam"]["p50_ms"], limit
    )
    batch = np.resize(images, (BATCH, *images.shape[1:]))
    repeats = 1 if limit else BATCH_REPEATS
    rates = {
        "medcnn_forward": batch_rate(predictor.forward, batch, repeats),
        "keras_predict": batch_rate(
            lambda b: model.predict(b, batch_size=BATCH, verbose=0), batch, repeats
        ),
    }
    result["batch"] = {"size": BATCH, "repeats": repeats, "images_per_s": rates}
    result["batch_ratio_medcnn_over_keras_predict"] = round(
        rates["medcnn_forward"] / rates["keras_predict"], 2
    )
    if predictor.reference is not None:
        features = predictor.forward.batches(images[:DISTANCE_IMAGES])[0]
        result["distances"] = distance_rates(predictor.reference, features, repeats)
    return result


def distance_rates(reference: FeatureReference, features: np.ndarray, repeats: int) -> dict:
    """Images per second of the reference's distances against the `einsum` quadratic form."""

    def quadratic_form(rows: np.ndarray) -> np.ndarray:
        offsets = np.asarray(rows, dtype=np.float64)[:, None, :] - reference.means[None]
        squared = np.einsum("ncd,de,nce->nc", offsets, reference.precision, offsets)
        return np.sqrt(np.maximum(squared.min(axis=1), 0.0))

    np.testing.assert_allclose(quadratic_form(features), reference.distances(features))
    rates = {
        "medcnn": batch_rate(reference.distances, features, repeats),
        "einsum": batch_rate(quadratic_form, features, repeats),
    }
    return {
        "features": features.shape[1],
        "images": len(features),
        "images_per_s": rates,
        "ratio_medcnn_over_einsum": round(rates["medcnn"] / rates["einsum"], 1),
    }


def eager_answer(predictor: Predictor, image: np.ndarray) -> np.ndarray:
    """The previous answer path: classify, then `grad_cam` and the overlay."""
    pixels = image[..., 0]
    prediction = predictor.classify(DecodedImage(pixels, "benchmark", *pixels.shape), "b", False)
    class_index = list(prediction.probabilities).index(prediction.top_class)
    return overlay(pixels, grad_cam(predictor.model, image.astype("float32"), class_index))


def volume_file(images: np.ndarray, path: Path, slices: int, side: int) -> Path:
    """A `.nii.gz` of `slices` test images, each resized to side × side, as int16."""
    stack = [
        np.asarray(Image.fromarray(images[i % len(images), ..., 0]).resize((side, side)))
        for i in range(slices)
    ]
    voxels = np.transpose(np.stack(stack).astype(np.int16), (2, 1, 0))
    nib.save(nib.Nifti1Image(np.ascontiguousarray(voxels), np.eye(4)), path)
    return path


def volume_latency(
    model_path: Path, images: np.ndarray, eager_ms: float, limit: int | None
) -> dict:
    """Seconds to answer a volume file end to end (read, choose, classify, one Grad-CAM),
    median of repeats after a warm-up, against the previous path: one classify with
    `grad_cam` per slice (its single-image p50 × slices)."""
    slices, side = (len(images), 128) if limit else (VOLUME_SLICES, VOLUME_SIDE)
    with tempfile.TemporaryDirectory() as folder:
        path = volume_file(images, Path(folder) / "volume.nii.gz", slices, side)
        predict_path(path, model_path)
        times = []
        for _ in range(1 if limit else VOLUME_REPEATS):
            start = time.perf_counter()
            (study,) = predict_path(path, model_path)
            times.append(time.perf_counter() - start)
        size_mb = path.stat().st_size / 1e6
    seconds = float(np.median(times))
    previous = eager_ms * slices / 1e3
    return {
        "slices": slices,
        "side": side,
        "file_mb": round(size_mb, 1),
        "slices_used": len(study.slices),
        "seconds": round(seconds, 3),
        "previous_path_seconds": round(previous, 2),
        "ratio_previous_over_medcnn": round(previous / seconds, 1),
    }
