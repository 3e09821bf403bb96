"""`medcnn data fetch`, `medcnn data build`, `medcnn data pack`."""

from __future__ import annotations

import argparse
from pathlib import Path

from medcnn import config
from medcnn.cli import CommandError


def data_fetch(args: argparse.Namespace) -> None:
    from medcnn.data.fetch import REPORT, fetch_sources
    from medcnn.data.sources import load_sources
    from medcnn.data.upstream import Origins

    sources = load_sources()
    if args.only:
        unknown = sorted(set(args.only) - {s.slug for s in sources})
        if unknown:
            raise CommandError(f"no source named {', '.join(unknown)} in data/sources.yml")
        sources = [s for s in sources if s.slug in set(args.only)]
    origins = Origins(
        url=args.upstream_url or config.upstream_url(),
        index=args.index_url or config.upstream_index(),
    )
    report = args.report or config.processed_dir() / REPORT
    results = fetch_sources(
        sources,
        raw=args.raw,
        mirror=args.mirror,
        progress=not args.quiet,
        upstream=args.upstream,
        limit=args.limit,
        origins=origins,
        report=report,
    )
    counts = {
        state: sum(1 for r in results.values() if r == state) for state in set(results.values())
    }
    print("fetched: " + ", ".join(f"{n} {state}" for state, n in sorted(counts.items())))
    if "partial" in counts:
        print(f"rows not rebuilt upstream are listed in {report}")


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def data_build(args: argparse.Namespace) -> None:
    from medcnn.data.build import build_dataset

    report = build_dataset(raw=args.raw, processed=args.processed, progress=not args.quiet)
    print(report.summary())


def data_pack(args: argparse.Namespace) -> None:
    from medcnn.data.fetch import pack_source

    if not args.mirror.is_dir():
        raise CommandError(f"{args.mirror}: no such folder; name the mirror's sources folder")
    folders = sorted(p for p in args.mirror.iterdir() if (p / "files.csv").is_file())
    if not folders:
        raise CommandError(f"{args.mirror}: no source folder (a folder holding files.csv)")
    args.out.mkdir(parents=True, exist_ok=True)
    for folder in folders:
        digest = pack_source(folder, args.out / f"{folder.name}.tar.gz")
        print(f"{folder.name}.tar.gz  sha256 {digest}")


def register(commands: argparse._SubParsersAction) -> None:
    """Add `medcnn data fetch|build|pack`."""
    data = commands.add_parser("data", help="fetch the sources and build the dataset")
    data_commands = data.add_subparsers(dest="data_command", required=True)

    fetch = data_commands.add_parser("fetch", help="put every source into data/raw/")
    fetch.add_argument(
        "--mirror",
        type=Path,
        default=config.mirror_dir(),
        help=f"local mirror folder (default: ${config.MIRROR_ENV})",
    )
    fetch.add_argument("--raw", type=Path, default=None, help="target (default: data/raw)")
    fetch.add_argument("--only", nargs="+", metavar="SLUG", help="fetch only these sources")
    fetch.add_argument(
        "--upstream",
        action="store_true",
        help="rebuild from the public originals even where a mirror or an archive exists "
        "(the default when neither is available)",
    )
    fetch.add_argument(
        "--upstream-url",
        metavar="TEMPLATE",
        help="URL of an original with {repository}, {commit} and {path} "
        f"(default: ${config.UPSTREAM_URL_ENV}, else GitHub's raw-content address)",
    )
    fetch.add_argument(
        "--index-url",
        metavar="URL",
        help=f"package index for wheels (default: ${config.UPSTREAM_INDEX_ENV}, else PyPI)",
    )
    fetch.add_argument(
        "--limit",
        type=_positive,
        metavar="N",
        help="rebuild only the first N rows of each source upstream (implies --upstream)",
    )
    fetch.add_argument(
        "--report",
        type=Path,
        default=None,
        help="where rows that fail upstream are listed (default: processed/upstream_failures.csv)",
    )
    fetch.add_argument("--quiet", action="store_true", help="no progress bars")
    fetch.set_defaults(run=data_fetch)

    build = data_commands.add_parser("build", help="decode, deduplicate, group and split")
    build.add_argument("--raw", type=Path, default=None, help="fetched sources (default: data/raw)")
    build.add_argument(
        "--processed", type=Path, default=None, help="output folder (default: data/processed)"
    )
    build.add_argument("--quiet", action="store_true", help="no progress bars")
    build.set_defaults(run=data_build)

    pack = data_commands.add_parser("pack", help="write a verified .tar.gz of each mirror source")
    pack.add_argument("mirror", type=Path, help="folder holding one sub-folder per source")
    pack.add_argument("out", type=Path, help="folder for the archives")
    pack.set_defaults(run=data_pack)
