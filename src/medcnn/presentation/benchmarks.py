"""`benchmarks/results.json` as tables and one figure, for the book's results page."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from medcnn.config import project_root
from medcnn.training.recipes import RECIPES

RESULTS = project_root() / "benchmarks" / "results.json"
LATENCY_PATHS = {
    "medcnn_forward": "medcnn Predictor.forward",
    "keras_predict": "Keras model.predict",
    "medcnn_classify_with_gradcam": "medcnn classify + Grad-CAM",
    "medcnn_classify_with_eager_gradcam": "classify + eager grad_cam (previous path)",
}


def load(path: Path = RESULTS) -> dict:
    return json.loads(Path(path).read_text())


def section(results: dict, name: str) -> dict:
    """One section's figures; a clear error when `make bench` has not measured it."""
    try:
        return results["sections"][name]
    except KeyError:
        raise KeyError(f"no {name!r} section in the results: run `make bench`") from None


def recipe_order(name: str) -> int:
    """Recipes in the order notebook 02 compares them; unknown ones last."""
    names = list(RECIPES)
    return names.index(name) if name in names else len(names)


def machine_line(results: dict) -> str:
    """One sentence naming the machine of the latest run (each section names its own)."""
    facts = results["machine"]
    return (
        f"Measured on **{facts['cpu']}**, {facts['cores_usable']} usable cores of "
        f"{facts['cores_total']}, Python {facts['python']}, "
        f"TensorFlow {facts['libraries']['tensorflow-cpu']}, Keras {facts['libraries']['keras']}."
    )


def machine_table(results: dict) -> pd.DataFrame:
    """The machine's facts, its library versions and its float32 matmul rate."""
    facts = dict(results["machine"])
    facts.update(facts.pop("libraries"))
    facts["float32 matmul GFLOP/s"] = section(results, "matmul")["float32_gflops"]
    return pd.DataFrame({"value": [str(value) for value in facts.values()]}, index=list(facts))


def sections_table(results: dict) -> pd.DataFrame:
    """When and on which machine each section was measured, and how long it took."""
    rows = {
        name: {
            "measured at": found["measured_at"],
            "machine": found.get("machine", "not recorded"),
            "seconds": found["section_seconds"],
        }
        for name, found in results["sections"].items()
    }
    return pd.DataFrame.from_dict(rows, orient="index").sort_values("measured at")


def build_table(results: dict) -> pd.DataFrame:
    """`medcnn data build` from nothing against with its decode cache."""
    build = section(results, "build")
    states = ("cold", "cached")
    table = pd.DataFrame.from_dict({state: build[state] for state in states}, orient="index")
    table["speed-up over cold"] = [1.0, build["cached_speedup"]]
    return table


def loader_table(results: dict) -> pd.DataFrame:
    """Images/s per pipeline and epoch, and medcnn's ratios to the other two."""
    loader = section(results, "loader")
    pipelines = ("medcnn", "keras_from_directory", "in_memory")
    table = pd.DataFrame.from_dict({name: loader[name] for name in pipelines}, orient="index")
    table.columns = ["epoch 1 images/s", "epoch 2 images/s"]
    for epoch in (1, 2):
        table[f"medcnn ÷ this, epoch {epoch}"] = (
            loader["medcnn"][f"epoch{epoch}_images_per_s"] / table[f"epoch {epoch} images/s"]
        ).round(2)
    return table


def training_table(results: dict) -> pd.DataFrame:
    """Train images/s of each recipe phase against the matmul bound."""
    training = section(results, "training")
    rows = []
    for name in sorted(training["recipes"], key=recipe_order):
        recipe = training["recipes"][name]
        if "skipped" in recipe:
            rows.append({"recipe": name, "phase": "skipped"})
            continue
        for phase in recipe["phases"]:
            rows.append(
                {
                    "recipe": name,
                    "phase": f"{phase['phase']} (unfreeze {phase['unfreeze']:.0%})",
                    "batch": recipe["batch_size"],
                    "forward MFLOP/image": recipe["forward_mflops_per_image"],
                    "train MFLOP/image": phase["train_mflops_per_image"],
                    "images/s": phase["images_per_s"],
                    "bound images/s": phase["bound_images_per_s"],
                    "fraction of bound": phase["fraction_of_bound"],
                }
            )
    return pd.DataFrame(rows).set_index(["recipe", "phase"])


def latency_table(results: dict) -> pd.DataFrame:
    """Single-image p50/p95 per path and its ratio to medcnn's forward."""
    single = section(results, "latency")["single_image"]
    measured = [path for path in LATENCY_PATHS if path in single]
    table = pd.DataFrame.from_dict(single, orient="index").loc[measured]
    table = table.rename(index=LATENCY_PATHS)
    table.columns = ["p50 ms", "p95 ms"]
    table["p50 ÷ medcnn forward"] = (table["p50 ms"] / single["medcnn_forward"]["p50_ms"]).round(2)
    return table


def batch_table(results: dict) -> pd.DataFrame:
    """Images/s of one batch through each path, and its ratio to model.predict."""
    batch = section(results, "latency")["batch"]
    measured = batch["images_per_s"]
    rates = pd.Series(
        {LATENCY_PATHS[name]: measured[name] for name in LATENCY_PATHS if name in measured}
    )
    table = pd.DataFrame({f"images/s (batch {batch['size']})": rates})
    table["÷ model.predict"] = (rates / rates["Keras model.predict"]).round(2)
    return table


def book_table(results: dict) -> pd.DataFrame:
    """Seconds per notebook of the last book build, and their share of the total."""
    book = section(results, "book")
    if "note" in book:
        return pd.DataFrame({"note": [book["note"]]})
    total = book["total_seconds"]
    rows = {
        name: {
            "seconds": entry["seconds"],
            "share of total": round(entry["seconds"] / total, 2) if total else "",
            "executed at": entry["executed_at"],
            "current": "yes" if entry["current"] else "no, changed since",
        }
        for name, entry in book["notebooks"].items()
    }
    blank = dict.fromkeys(("seconds", "share of total", "current"), "")
    rows |= {name: {**blank, "executed at": "not executed"} for name in book["not_executed"]}
    rows["total"] = {**blank, "seconds": total, "executed at": ""}
    return pd.DataFrame.from_dict(rows, orient="index")


def speed_figure(results: dict) -> Figure:
    """Train images/s against the bound per recipe phase; p50 latency per prediction path."""
    training, latency = training_table(results).dropna(), latency_table(results)
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    labels = [f"{recipe}\nphase {phase.split()[0]}" for recipe, phase in training.index]
    training[["images/s", "bound images/s"]].set_axis(labels).plot.bar(
        ax=left, rot=0, color=["#0072B2", "#BBBBBB"], logy=True
    )
    left.set(title="Training: measured vs matmul bound", ylabel="train images/s (log)")
    left.tick_params(axis="x", labelsize=8)
    left.legend(["measured", "bound"], frameon=False)
    colours = ["#0072B2", "#E69F00", "#009E73", "#CC79A7"][: len(latency)]
    latency["p50 ms"].plot.barh(ax=right, color=colours, logx=True)
    right.set(title="One image: median latency", xlabel="p50 ms (log)")
    for axis in (left, right):
        for bars in axis.containers:
            axis.bar_label(bars, fmt="%.0f", fontsize=8)
    left.set_ylim(top=left.get_ylim()[1] * 2)
    right.set_xlim(right=right.get_xlim()[1] * 3)
    right.invert_yaxis()
    figure.tight_layout()
    return figure
