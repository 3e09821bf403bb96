"""`medcnn predict PATH... [--model PATH] [--json]`: classify images and studies, one line
(or JSON record) each.

A path is an image file, a volume (NIfTI, multi-frame DICOM, multi-page TIFF), a zip or a
folder of DICOM files (one answer per series).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from medcnn.cli import CommandError

FORMATS = "PNG, JPEG, JPEG 2000, BMP, TIFF, GIF, WebP, DICOM, NIfTI; DICOM series as zip or folder"


def error_record(name: str, message: str) -> dict:
    return {"file": name, "label": None, "error": message}


def print_answer(answer) -> None:
    shares = ", ".join(f"{c} {p:.1%}" for c, p in answer.probabilities.items())
    print(f"{answer.name}: {answer.summary()}  [{shares}]")
    for warning in answer.warnings:
        print(f"{answer.name}: warning: {warning}")


def predict_files(args: argparse.Namespace) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's start-up notes are noise here
    from medcnn.imaging.errors import UnusableImageError
    from medcnn.inference.study import predict_path

    records, failed = [], 0
    for path in args.files:
        try:
            answers = predict_path(path, args.model, explain=False)
        except UnusableImageError as error:
            failed += 1
            records.append(error_record(str(path), str(error)))
            if not args.json:
                print(f"{path}: error: {error}", file=sys.stderr)
            continue
        for answer in answers:
            records.append(answer.to_json())
            if not args.json:
                print_answer(answer)
    if args.json:
        print(json.dumps(records, indent=2))
    if failed:
        raise CommandError(f"{failed} of {len(args.files)} files could not be classified")


def register(commands: argparse._SubParsersAction) -> None:
    """Add `medcnn predict`."""
    predict = commands.add_parser("predict", help=f"classify images and studies ({FORMATS})")
    predict.add_argument(
        "files", nargs="+", type=Path, metavar="PATH", help="image files, volumes, zips, folders"
    )
    predict.add_argument(
        "--model", type=Path, default=None, help="a .keras model (default: models/medcnn.keras)"
    )
    predict.add_argument("--json", action="store_true", help="one JSON list of records on stdout")
    predict.set_defaults(run=predict_files)
