"""The benchmark harness runs on a tiny input and writes well-formed results (no timings judged)."""

from __future__ import annotations

import json

from benchmarks.run import Context, run
from medcnn.config import CLASSES
from tests.conftest import synthetic_image


def test_harness_writes_every_section(write_source, settings, tmp_path) -> None:
    sources = [
        write_source(label, label, {f"{label}{i}": synthetic_image(50 * n + i) for i in range(10)})
        for n, label in enumerate(CLASSES)
    ]
    work = tmp_path / "work"
    context = Context(
        raw=write_source.raw,
        processed=work / "build" / "processed",
        work=work,
        limit=12,
        sources=sources,
        settings=settings,
    )
    out = tmp_path / "results.json"
    run(context, ["matmul", "build", "loader"], out)
    results = json.loads(out.read_text())
    assert results["machine"]["cores_usable"] >= 1 and results["machine"]["cpu"]
    sections = results["sections"]
    assert sections["matmul"]["float32_gflops"] > 0
    assert sections["build"]["cold"]["images"] == 30
    assert sections["build"]["cached"]["images_per_s"] > 0
    loader = sections["loader"]
    assert loader["images"] == 12 and loader["image_size"] == 32
    for pipeline in ("medcnn", "keras_from_directory", "in_memory"):
        assert loader[pipeline]["epoch1_images_per_s"] > 0
    assert loader["epoch2_ratio_vs_keras_from_directory"] > 0
    run(context, ["matmul"], out)
    assert set(json.loads(out.read_text())["sections"]) == {"matmul", "build", "loader"}
