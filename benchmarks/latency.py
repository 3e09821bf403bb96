"""Prediction latency of one image and throughput of a batch: medcnn's path against model.predict.

medcnn's `Predictor.forward` runs a `tf.function` traced once; Keras' `model.predict`
sets up a data adapter and a progress loop on every call. Both run the same model
on the same real test-split images.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from medcnn.data.dataset import split_arrays
from medcnn.imaging.readers import DecodedImage
from medcnn.inference.predictor import Predictor

IMAGES = 120
BATCH = 128
BATCH_REPEATS = 7


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
    }
    result: dict = {"model": model_path.name, "model_name": model.name, "images": len(images)}
    result["single_image"] = {name: percentiles(call, images) for name, call in one.items()}
    single = result["single_image"]
    result["p50_ratio_keras_predict_over_medcnn"] = round(
        single["keras_predict"]["p50_ms"] / single["medcnn_forward"]["p50_ms"], 2
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
    return result
