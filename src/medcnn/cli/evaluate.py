"""`medcnn evaluate`: a model's figures on a split of the manifest or on a folder of sources."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from medcnn.cli import CommandError


def evaluate(args: argparse.Namespace) -> None:
    from medcnn.data.dataset import split_arrays
    from medcnn.data.manifest import ManifestError
    from medcnn.evaluation.report import (
        FolderError,
        evaluate_model,
        load_folder,
        summary,
        validation_temperature,
    )
    from medcnn.io import write_atomic
    from medcnn.modeling.artifacts import load_model, release_model_path
    from medcnn.modeling.features import load_reference
    from medcnn.modeling.novelty import load_novelty
    from medcnn.modeling.unsure import load_rule

    if args.resamples < 1:
        raise CommandError("--resamples must be at least 1")
    model = load_model(args.model)
    model_path = args.model or release_model_path()
    if args.split:
        try:
            images, labels, frame = split_arrays(args.split, args.processed)
        except ValueError as error:
            raise CommandError(str(error)) from None
    else:
        try:
            images, labels, frame = load_folder(args.data)
        except FolderError as error:
            raise CommandError(str(error)) from None
    try:
        temperature = validation_temperature(model, args.processed)
        fitted_on = "val"
    except ManifestError:
        temperature, fitted_on = None, None
    report = evaluate_model(
        model,
        images,
        labels,
        frame,
        temperature,
        resamples=args.resamples,
        seed=args.seed,
        reference=load_reference(model_path),
        rule=load_rule(model_path),
        novelty=load_novelty(model_path),
    )
    report = {
        "model": str(args.model) if args.model else "release",
        "data": f"split {args.split}" if args.split else str(args.data),
        "temperature_fitted_on": fitted_on,
        "unreadable": frame.attrs.get("unreadable", []),
        **report,
    }
    print(summary(report))
    if fitted_on is None:
        print("no manifest, so no validation split: calibration after scaling not computed")
    elif args.split == "val":
        print("note: the temperature was fitted on this same split, so its ECE is optimistic")
    if report["unreadable"]:
        print(f"{len(report['unreadable'])} listed images could not be read (see the JSON)")
    if args.json:
        text = json.dumps(report, indent=2, allow_nan=False) + "\n"
        write_atomic(args.json, text.encode())
        print(f"wrote {args.json}")


def register(commands: argparse._SubParsersAction) -> None:
    """Add `medcnn evaluate`."""
    command = commands.add_parser(
        "evaluate", help="accuracy, F1, ROC/PR, calibration and per-source figures of a model"
    )
    command.add_argument(
        "--model",
        type=Path,
        default=None,
        metavar="PATH",
        help="a .keras model (default: models/medcnn.keras)",
    )
    data = command.add_mutually_exclusive_group(required=True)
    data.add_argument("--split", metavar="NAME", help="a split of the manifest: val, test…")
    data.add_argument(
        "--data",
        type=Path,
        metavar="DIR",
        help="a folder of sources (sub-folders with files.csv and images/<label>/), or one source",
    )
    command.add_argument("--json", type=Path, metavar="OUT", help="write every figure here")
    command.add_argument(
        "--processed",
        type=Path,
        default=None,
        metavar="DIR",
        help="manifest folder (default: data/processed)",
    )
    command.add_argument(
        "--resamples", type=int, default=1000, metavar="N", help="bootstrap resamples"
    )
    command.add_argument("--seed", type=int, default=0, help="seed of the bootstrap")
    command.set_defaults(run=evaluate)
