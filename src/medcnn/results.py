"""Tables for the book's results and model-card pages, read from the files the runs wrote."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from medcnn.config import project_root


def benchmark_results(path: Path | None = None) -> dict:
    """`benchmarks/results.json` as written by `make bench`."""
    path = path or project_root() / "benchmarks" / "results.json"
    return json.loads(Path(path).read_text())


def benchmark_table(results: dict) -> pd.DataFrame:
    """One row per measured figure: what, medcnn's value, the baseline's, and their ratio."""
    sections = results["sections"]
    rows = []
    if "build" in sections:
        build = sections["build"]
        rows.append(
            (
                "dataset build (images/s)",
                build["cached"]["images_per_s"],
                "cold build",
                build["cold"]["images_per_s"],
                build["cached_speedup"],
            )
        )
    if "loader" in sections:
        loader = sections["loader"]
        ours = loader["medcnn"]["epoch2_images_per_s"]
        for baseline, key in (
            ("keras image_dataset_from_directory", "keras_from_directory"),
            ("in-memory tensors (upper bound)", "in_memory"),
        ):
            theirs = loader[key]["epoch2_images_per_s"]
            rows.append(("loader, 2nd epoch (images/s)", ours, baseline, theirs, ours / theirs))
    for name, figures in sections.get("training", {}).get("models", {}).items():
        rows.append(
            (
                f"training {name} (images/s)",
                figures["images_per_s"],
                "matmul bound (images/s)",
                figures["bound_images_per_s"],
                figures["fraction_of_bound"],
            )
        )
    if "predict" in sections:
        latency = sections["predict"]
        rows.append(
            (
                "single image p50 (ms)",
                latency["medcnn_predict"]["p50_ms"],
                "model.predict p50 (ms)",
                latency["model_predict"]["p50_ms"],
                latency["speedup_p50"],
            )
        )
    columns = ["measure", "medcnn", "baseline", "baseline value", "ratio"]
    return pd.DataFrame(rows, columns=columns).round(3)


def model_card(path: Path | None = None) -> dict:
    """The release model's card, `models/medcnn.json`."""
    path = path or project_root() / "models" / "medcnn.json"
    return json.loads(Path(path).read_text())


def card_metrics_table(card: dict) -> pd.DataFrame:
    """Accuracy and macro-F1 per split, from a model card."""
    return pd.DataFrame(card["metrics"]).T.round(4)
