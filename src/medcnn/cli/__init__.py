"""The `medcnn` command line. Each command family lives in its own module with a `register`."""

from __future__ import annotations

import argparse
import importlib
import sys

COMMAND_MODULES = ("data", "train", "evaluate", "predict")
"""Modules under `medcnn.cli` that add sub-commands, each with a `register`."""


class CommandError(Exception):
    """An expected failure: printed as one line, exit status 1."""


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(prog="medcnn", description="Classify medical images.")
    commands = main.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(f"medcnn.cli.{name}").register(commands)
    return main


def expected_errors() -> tuple[type[Exception], ...]:
    """Exceptions that mean bad input or a missing file, not a bug."""
    from medcnn.data.build import BuildError
    from medcnn.data.fetch import FetchError
    from medcnn.data.manifest import ManifestError, SplitError
    from medcnn.data.sources import SourcesError
    from medcnn.modeling.artifacts import ModelLoadError

    return (
        CommandError,
        BuildError,
        FetchError,
        ManifestError,
        SplitError,
        SourcesError,
        ModelLoadError,
    )


def main(argv: list[str] | None = None) -> int:
    """Run one command; expected failures print one line and exit 1, never a traceback."""
    args = parser().parse_args(argv)
    try:
        args.run(args)
    except expected_errors() as error:
        print(f"medcnn: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("medcnn: interrupted; nothing was half-written", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
