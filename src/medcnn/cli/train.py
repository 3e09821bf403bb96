"""`medcnn train`: train one or more models, or regenerate the release model."""

from __future__ import annotations

import argparse
from pathlib import Path


def train(args: argparse.Namespace) -> None:
    from medcnn.cli import CommandError
    from medcnn.modeling.architectures import WeightsUnavailable
    from medcnn.training.recipes import RECIPES
    from medcnn.training.run import train_model, train_release

    try:
        if args.holdout:
            if args.models or args.out:
                raise CommandError("--holdout trains its own candidates: drop MODEL and --out")
            holdout()
            return
        if args.measure and not args.seeds:
            raise CommandError("--measure picks seeds of --seeds: add --seeds")
        if args.seeds:
            if args.models or args.out:
                raise CommandError("--seeds trains and scores its own models: drop MODEL and --out")
            seeds(args.measure)
            return
        if args.release:
            if args.models:
                raise CommandError("--release trains its own members: drop MODEL")
            runs = [train_release(seed=args.seed, out=output(args, "medcnn"))]
        else:
            names = args.models or list(RECIPES)
            unknown = sorted(set(names) - set(RECIPES))
            if unknown:
                raise CommandError(f"unknown model {unknown}; choose from {', '.join(RECIPES)}")
            runs = [train_model(name, args.seed, output(args, name)) for name in names]
    except WeightsUnavailable as error:
        raise CommandError(str(error)) from None
    for run in runs:
        scores = run.card["metrics"]
        summary = ", ".join(
            f"{split} acc {s['accuracy']:.3f} macro-F1 {s['macro_f1']:.3f}"
            for split, s in scores.items()
        )
        print(f"{run.name}: {summary} → {run.path}")


def holdout() -> None:
    from medcnn.training.holdout import holdout_table, results_path, run_holdout

    results = run_holdout()
    print(holdout_table(results).round(3).to_string())
    print(f"→ {results_path()}")


def seeds(measure: list[int] | None) -> None:
    from medcnn.cli import CommandError
    from medcnn.training.seeds import SEEDS, SeedsError, results_path, run_seeds

    try:
        results = run_seeds(measure=tuple(measure or SEEDS))
    except SeedsError as error:
        raise CommandError(str(error)) from None
    for seed, entry in results["seeds"].items():
        scores = entry["scores"]
        print(
            f"seed {seed}: test macro-F1 {scores['test']['macro_f1']:.3f}, external macro-F1 "
            f"{scores['external']['macro_f1']:.3f}, external asserted error "
            f"{scores['external']['abstention']['all']['asserted_error_rate']:.4f}"
        )
    print(f"→ {results_path()}")


def output(args: argparse.Namespace, name: str) -> Path | None:
    return args.out / f"{name}.keras" if args.out else None


def register(commands: argparse._SubParsersAction) -> None:
    """Add `medcnn train`."""
    from medcnn.training.recipes import RECIPES, RELEASE_MEMBERS, SEEDS_PER_MEMBER

    parser = commands.add_parser(
        "train",
        help="train models on the train split, select on val, save them with model cards",
    )
    parser.add_argument(
        "models",
        nargs="*",
        metavar="MODEL",
        help=f"recipes to train, from {', '.join(RECIPES)} (default: all)",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--release",
        action="store_true",
        help=f"train {' and '.join(RELEASE_MEMBERS)}, each under {SEEDS_PER_MEMBER} seeds "
        "(--seed k: seeds k·n to k·n + n − 1), and merge them into the release model "
        "models/medcnn.keras",
    )
    mode.add_argument(
        "--holdout",
        action="store_true",
        help="score the release's recipes and variants of them on held-out training sources "
        "(models/medcnn.holdout.json; its seeds are fixed, --seed and --out do not apply)",
    )
    mode.add_argument(
        "--seeds",
        action="store_true",
        help="the release under seeds 0-2, scored on test, external and the open set "
        "(models/medcnn.seeds.json; seed 0 is the release model, the others go to runs/seeds/)",
    )
    parser.add_argument(
        "--measure",
        type=int,
        nargs="+",
        metavar="SEED",
        help="with --seeds: measure only these release seeds (default: all) and keep the "
        "others' entries from models/medcnn.seeds.json, measured on this dataset",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed for weights, shuffling, dropout")
    parser.add_argument("--out", type=Path, default=None, help="folder for models (default: runs/)")
    parser.set_defaults(run=train)
