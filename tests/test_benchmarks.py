"""The benchmark harness runs on a tiny input and writes well-formed results (no timings judged)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import keras
import matplotlib.pyplot as plt
import nbformat
import numpy as np
import pytest

from benchmarks import book, flops
from benchmarks.run import SECTIONS, Context, run
from medcnn.config import CANONICAL_SIZE, CLASSES
from medcnn.modeling import artifacts
from medcnn.modeling.architectures import original_cnn
from medcnn.modeling.features import FeatureReference, save_reference
from medcnn.presentation import benchmarks as report
from medcnn.training.recipes import RECIPES
from tests.helpers import synthetic_image


def tiny_model(folder: Path) -> Path:
    """An untrained original CNN saved with its card and an out-of-distribution reference in
    its 64 features, standing in for the release model."""
    path = artifacts.save_model(
        original_cnn(), folder / "tiny.keras", artifacts.make_card("tiny", 0)
    )
    save_reference(FeatureReference(np.zeros((3, 64)), np.eye(64), threshold=1.0), path)
    return path


def tiny_book(root: Path) -> Path:
    """A book of two notebooks: one executed by nbmake (its junit record and key), one not."""
    root.mkdir()
    (root / "_toc.yml").write_text(
        "format: jb-book\nroot: intro\nchapters:\n  - file: executed\n  - file: pending\n"
    )
    (root / "intro.md").write_text("# Intro\n")
    kernel = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell("1 + 1")], metadata={"kernelspec": kernel}
    )
    nbformat.write(notebook, root / "executed.ipynb")
    (root / "pending.md").write_text(
        "---\njupytext:\n  text_representation:\n    format_name: myst\n"
        "kernelspec:\n  name: python3\n  display_name: Python 3\n---\n# Pending\n"
    )
    stage = root / book.STAGE
    stage.mkdir(parents=True)
    (stage / "executed.xml").write_text(
        '<testsuites><testsuite timestamp="2026-01-02T03:04:05.6">'
        '<testcase name="executed.ipynb" time="1.5"/></testsuite></testsuites>'
    )
    (stage / "executed.key").write_text(book.execution_key(root, root / "executed.ipynb") + "\n")
    return root


@pytest.fixture
def context(write_source, settings, tmp_path) -> Context:
    """Thirty canonical-size images in three classes, a tiny model and a tiny book."""
    sources = [
        write_source(label, label, {f"{label}{i}": synthetic_image(50 * n + i) for i in range(10)})
        for n, label in enumerate(CLASSES)
    ]
    work = tmp_path / "work"
    return Context(
        raw=write_source.raw,
        processed=work / "build" / "processed",
        work=work,
        limit=12,
        sources=sources,
        settings=dataclasses.replace(settings, image_size=CANONICAL_SIZE),
        model=tiny_model(tmp_path),
        book=tiny_book(tmp_path / "book"),
    )


def check_training(training: dict) -> None:
    assert training["timed_steps"] >= 1
    for name, recipe in RECIPES.items():
        measured = training["recipes"][name]
        if "skipped" in measured:  # no ImageNet weights in $KERAS_HOME
            continue
        forward = measured["forward_mflops_per_image"]
        assert len(measured["phases"]) == len(recipe.phases)
        for phase in measured["phases"]:
            assert phase["images_per_s"] > 0 and phase["fraction_of_bound"] > 0
            assert forward <= phase["train_mflops_per_image"] <= 3 * forward


def check_latency(latency: dict) -> None:
    assert latency["model"] == "tiny.keras" and latency["images"] >= 3
    p50 = {path: latency["single_image"][path]["p50_ms"] for path in report.LATENCY_PATHS}
    assert min(p50.values()) > 0
    volume = latency["volume"]
    assert volume["slices"] == latency["images"] and 1 <= volume["slices_used"] <= volume["slices"]
    assert volume["seconds"] > 0 and volume["previous_path_seconds"] > 0
    assert latency["batch"]["images_per_s"]["medcnn_forward"] > 0
    distances = latency["distances"]
    assert distances["features"] == 64 and distances["images"] == latency["images"]
    assert min(distances["images_per_s"].values()) > 0
    ratio = p50["keras_predict"] / p50["medcnn_forward"]
    assert latency["p50_ratio_keras_predict_over_medcnn"] == pytest.approx(ratio, abs=0.01)


def check_book(times: dict) -> None:
    executed = times["notebooks"]["executed.ipynb"]
    assert executed["seconds"] == 1.5 and executed["current"] is True and executed["passed"]
    assert executed["executed_at"] == "2026-01-02T03:04:05"
    assert times["total_seconds"] == 1.5 and times["not_executed"] == ["pending.md"]


def test_a_changed_notebook_is_no_longer_current(tmp_path) -> None:
    root = tiny_book(tmp_path / "book")
    assert book.execution_times(root)["notebooks"]["executed.ipynb"]["current"]
    (root / "executed.ipynb").write_text(
        (root / "executed.ipynb").read_text().replace("1 + 1", "2")
    )
    assert not book.execution_times(root)["notebooks"]["executed.ipynb"]["current"]


def test_harness_writes_every_section(context, tmp_path) -> None:
    out = tmp_path / "results.json"
    run(context, list(SECTIONS), out)
    results = json.loads(out.read_text())
    assert results["machine"]["cores_usable"] >= 1 and results["machine"]["cpu"]
    sections = results["sections"]
    assert all(results["machine"]["cpu"] in found["machine"] for found in sections.values())
    assert set(sections) == set(SECTIONS)
    assert sections["matmul"]["float32_gflops"] > 0
    assert sections["build"]["cold"]["images"] == 30
    assert sections["build"]["cached"]["images_per_s"] > 0
    loader = sections["loader"]
    assert loader["images"] == 12 and loader["image_size"] == CANONICAL_SIZE
    for pipeline in ("medcnn", "keras_from_directory", "in_memory"):
        assert loader[pipeline]["epoch1_images_per_s"] > 0
    assert loader["epoch2_ratio_vs_keras_from_directory"] > 0
    check_training(sections["training"])
    check_latency(sections["latency"])
    check_book(sections["book"])
    tables = [report.machine_table, report.sections_table, report.build_table]
    tables += [report.loader_table, report.training_table, report.latency_table]
    for table in [*tables, report.batch_table, report.book_table]:
        assert not table(results).empty
    plt.close(report.speed_figure(results))
    run(context, ["matmul"], out)
    assert set(json.loads(out.read_text())["sections"]) == set(SECTIONS)


def test_book_section_without_cache_says_so(tmp_path) -> None:
    context = Context(raw=tmp_path, processed=tmp_path, work=tmp_path, book=tmp_path)
    out = tmp_path / "results.json"
    assert "make book" in run(context, ["book"], out)["sections"]["book"]["note"]


def test_flops_count_kernels_in_nested_models() -> None:
    inner = keras.Sequential(
        [keras.Input((6, 6, 4)), keras.layers.DepthwiseConv2D(3)], name="inner"
    )
    inputs = keras.Input((8, 8, 2))
    x = keras.layers.Conv2D(4, 3)(inputs)  # 6×6 positions × 3·3·2·4 multiply-adds
    x = inner(x)  # 4×4 positions × 3·3·4
    x = keras.layers.Flatten()(x)
    model = keras.Model(inputs, keras.layers.Dense(3)(x))  # 64·3
    conv, depthwise, dense = 2 * 36 * 72, 2 * 16 * 36, 2 * 64 * 3
    assert flops.forward_flops(model) == conv + depthwise + dense
    # Forward, weight and input gradients; the image itself needs no gradient.
    assert flops.training_flops(model) == 2 * conv + 3 * (depthwise + dense)
    inner.trainable = False  # its weights need no gradient, its input still does
    assert flops.training_flops(model) == 2 * conv + 2 * depthwise + 3 * dense
    model.layers[1].trainable = False  # nothing trains before the Dense layer
    assert flops.training_flops(model) == conv + depthwise + 2 * dense
