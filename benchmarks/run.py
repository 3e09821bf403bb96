"""`make bench`: run the benchmark sections and write `benchmarks/results.json`.

Every figure is measured against its baseline in the same run, on the same
machine, and stored with the machine's facts. Sections can be run alone
(`--only loader`); their results are merged into the existing file.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from benchmarks import book, data_pipeline, latency, machine, training
from medcnn.config import processed_dir, project_root, raw_dir
from medcnn.modeling.artifacts import release_model_path

RESULTS = Path(__file__).with_name("results.json")


@dataclass(frozen=True)
class Context:
    """Where the inputs are, where scratch files go, and how much data to use.

    `model` is the saved model the latency section times (default: the release model);
    `book` the folder holding `_toc.yml` and `_build` (default: the project root).
    """

    raw: Path
    processed: Path
    work: Path
    limit: int | None = None
    sources: list | None = None
    settings: object | None = None
    model: Path | None = None
    book: Path | None = None


def build_section(context: Context) -> dict:
    return data_pipeline.build_throughput(
        context.raw, context.work / "build", context.sources, context.settings
    )


def loader_section(context: Context) -> dict:
    return data_pipeline.loader_throughput(
        context.raw, context.processed, context.work / "loader", context.limit
    )


def matmul_section(context: Context) -> dict:
    return {"float32_gflops": machine.matmul_gflops(seconds=0.5 if context.limit else 2.0)}


def training_section(context: Context) -> dict:
    gflops = machine.matmul_gflops(seconds=0.5 if context.limit else 2.0)
    return training.training_throughput(gflops, context.limit)


def latency_section(context: Context) -> dict:
    model = context.model or release_model_path()
    return latency.prediction_latency(model, context.processed, context.limit)


def book_section(context: Context) -> dict:
    return book.execution_times(context.book or project_root())


SECTIONS: dict[str, Callable[[Context], dict]] = {
    "matmul": matmul_section,
    "build": build_section,
    "loader": loader_section,
    "training": training_section,
    "latency": latency_section,
    "book": book_section,
}


def run(context: Context, names: list[str], results_path: Path = RESULTS) -> dict:
    """Run the named sections and merge them into `results_path`.

    `machine` describes the latest run; each section also names the machine it ran on,
    so a section measured again elsewhere does not pass for the others' machine.
    """
    results = json.loads(results_path.read_text()) if results_path.is_file() else {}
    results["machine"] = facts = machine.machine_facts()
    sections = results.setdefault("sections", {})
    for name in names:
        start = time.perf_counter()
        measured = SECTIONS[name](context)
        measured["measured_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        measured["section_seconds"] = round(time.perf_counter() - start, 1)
        measured["machine"] = f"{facts['cpu']}, {facts['cores_usable']} cores usable"
        sections[name] = measured
        print(f"bench: {name} done in {measured['section_seconds']} s", file=sys.stderr)
    results_path.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    parser.add_argument("--only", nargs="+", choices=list(SECTIONS), default=list(SECTIONS))
    parser.add_argument("--work", type=Path, default=Path("benchmarks/_work"))
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    context = Context(raw=raw_dir(), processed=processed_dir(), work=args.work)
    results = run(context, args.only, args.out)
    print(json.dumps(results["sections"], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
