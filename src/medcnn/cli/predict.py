"""`medcnn predict FILE... [--model PATH] [--json]`: classify files, one line (or record) each."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from medcnn.cli import CommandError


def error_record(name: str, message: str) -> dict:
    return {"file": name, "label": None, "error": message}


def predict_files(args: argparse.Namespace) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's start-up notes are noise here
    from medcnn.imaging.errors import UnusableImageError
    from medcnn.inference.predictor import load_predictor

    predictor = load_predictor(args.model)
    records, failed = [], 0
    for path in args.files:
        try:
            prediction = predictor.predict(path, str(path), explain=False)
        except UnusableImageError as error:
            failed += 1
            records.append(error_record(str(path), str(error)))
            if not args.json:
                print(f"{path}: error: {error}", file=sys.stderr)
            continue
        records.append(prediction.to_json())
        if not args.json:
            shares = ", ".join(f"{c} {p:.1%}" for c, p in prediction.probabilities.items())
            print(f"{path}: {prediction.summary()}  [{shares}]")
            for warning in prediction.warnings:
                print(f"{path}: warning: {warning}")
    if args.json:
        print(json.dumps(records, indent=2))
    if failed:
        raise CommandError(f"{failed} of {len(args.files)} files could not be classified")


def register(commands: argparse._SubParsersAction) -> None:
    """Add `medcnn predict`."""
    predict = commands.add_parser(
        "predict", help="classify image files (PNG, JPEG, BMP, TIFF, GIF, WebP, DICOM)"
    )
    predict.add_argument("files", nargs="+", type=Path, metavar="FILE", help="images to classify")
    predict.add_argument(
        "--model", type=Path, default=None, help="a .keras model (default: models/medcnn.keras)"
    )
    predict.add_argument("--json", action="store_true", help="one JSON list of records on stdout")
    predict.set_defaults(run=predict_files)
