"""`medcnn data build`: decode, deduplicate, group and split the fetched sources.

Flow: files.csv rows → canonical pixels (cached by file content) → exact and
near duplicates → groups (patient ids joined with near-twin clusters) → splits
→ `manifest.csv` + pixels, written so an interrupted build changes nothing.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from tqdm.auto import tqdm

from medcnn.config import CANONICAL_SIZE, data_dir, processed_dir, raw_dir
from medcnn.data.dedup import (
    image_features,
    near_duplicate_pairs,
    pixel_digest,
    thumbnail_vectors,
)
from medcnn.data.listing import ListingError, read_files_csv
from medcnn.data.manifest import write_manifest
from medcnn.data.sources import Source, load_sources
from medcnn.data.split import EXTERNAL, UnionFind, assign_splits
from medcnn.imaging.canonical import ImageDecodeError, open_image, square_resize, to_grayscale
from medcnn.io import write_atomic


class BuildError(RuntimeError):
    """The build cannot go on: a source is missing or the settings contradict each other."""


@dataclass(frozen=True)
class BuildSettings:
    """What `data/dataset.yml` says; see that file for the meaning of each field."""

    image_size: int = CANONICAL_SIZE
    seed: int = 0
    split_fractions: dict[str, float] = field(
        default_factory=lambda: {"train": 0.70, "val": 0.15, "test": 0.15}
    )
    external_sources: tuple[str, ...] = ()
    duplicate_distance: int = 16
    duplicate_correlation: float = 0.98
    twin_distance: int = 40
    twin_correlation: float = 0.96
    twin_alike_correlation: float = 0.98
    copy_distance: int = 48
    copy_correlation: float = 0.99

    def is_copy(self, distance: int, correlation: float) -> bool:
        """Thumbnails this alike are one picture even where low texture scrambles the hash."""
        return distance <= self.copy_distance and correlation >= self.copy_correlation

    def is_near_duplicate(self, distance: int, correlation: float) -> bool:
        """Alike enough to drop the later image when the two come from different sources."""
        near = distance <= self.duplicate_distance and correlation >= self.duplicate_correlation
        return near or self.is_copy(distance, correlation)

    def is_near_twin(self, distance: int, correlation: float) -> bool:
        """Alike enough to keep both images of one source in the same group."""
        near = distance <= self.twin_distance and correlation >= self.twin_correlation
        alike = distance <= self.copy_distance and correlation >= self.twin_alike_correlation
        return near or alike or self.is_copy(distance, correlation)


SETTINGS_KEYS = {
    "seed": (),
    "split_fractions": (),
    "external_sources": (),
    "near_duplicate": ("max_hash_distance", "min_correlation"),
    "near_twin": ("max_hash_distance", "min_correlation", "alike_correlation"),
    "copy": ("max_hash_distance", "min_correlation"),
}
"""The keys `data/dataset.yml` may hold, and those of its nested sections."""


def read_settings_file(path: Path) -> dict:
    """The YAML mapping at `path`; a missing or malformed file or an unknown key is a BuildError."""
    try:
        values = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise BuildError(f"{path}: no build settings; restore data/dataset.yml") from None
    except yaml.YAMLError as error:
        where = getattr(error, "problem_mark", None)
        line = f" at line {where.line + 1}" if where else ""
        raise BuildError(f"{path}: not valid YAML{line}") from None
    if not isinstance(values, dict):
        raise BuildError(f"{path}: expected a mapping of settings, found {type(values).__name__}")
    for key, value in values.items():
        if key == "image_size":
            raise BuildError(
                f"{path}: image_size is the model's input contract, medcnn.config.CANONICAL_SIZE"
                f" ({CANONICAL_SIZE}); remove it from this file"
            )
        if key not in SETTINGS_KEYS:
            raise BuildError(f"{path}: unknown setting {key!r}; known: {', '.join(SETTINGS_KEYS)}")
        allowed = SETTINGS_KEYS[key]
        unknown = sorted(set(value) - set(allowed)) if allowed and isinstance(value, dict) else []
        if unknown:
            raise BuildError(
                f"{path}: unknown setting {key}.{unknown[0]}; known: {', '.join(allowed)}"
            )
    return values


def load_settings(path: Path | None = None) -> BuildSettings:
    """Read `data/dataset.yml`; the canonical size is `config.CANONICAL_SIZE`, not a setting."""
    path = Path(path) if path else data_dir() / "dataset.yml"
    values = read_settings_file(path)
    near = values.get("near_duplicate", {})
    twin = values.get("near_twin", {})
    copy = values.get("copy", {})
    return BuildSettings(
        seed=int(values.get("seed", 0)),
        split_fractions=dict(values.get("split_fractions", BuildSettings().split_fractions)),
        external_sources=tuple(values.get("external_sources", ())),
        duplicate_distance=int(near.get("max_hash_distance", 16)),
        duplicate_correlation=float(near.get("min_correlation", 0.98)),
        twin_distance=int(twin.get("max_hash_distance", 40)),
        twin_correlation=float(twin.get("min_correlation", 0.96)),
        twin_alike_correlation=float(twin.get("alike_correlation", 0.98)),
        copy_distance=int(copy.get("max_hash_distance", 48)),
        copy_correlation=float(copy.get("min_correlation", 0.99)),
    )


@dataclass
class BuildReport:
    """What the build kept, dropped and could not read."""

    images_listed: int = 0
    images_kept: int = 0
    unreadable: int = 0
    exact_duplicates: int = 0
    near_duplicates_across_sources: int = 0
    near_twin_pairs_within_sources: int = 0
    groups: int = 0
    largest_group: int = 0
    decoded: int = 0
    from_cache: int = 0
    per_split: dict[str, dict[str, int]] = field(default_factory=dict)

    def summary(self) -> str:
        lines = [
            f"kept {self.images_kept:,} of {self.images_listed:,} images "
            f"({self.exact_duplicates} exact and {self.near_duplicates_across_sources} "
            f"cross-source near duplicates dropped, {self.unreadable} unreadable)",
            f"{self.groups:,} groups (largest {self.largest_group}), "
            f"{self.near_twin_pairs_within_sources:,} near-twin pairs kept within sources",
            f"decoded {self.decoded:,}, from cache {self.from_cache:,}",
        ]
        for split, counts in self.per_split.items():
            lines.append(f"{split:>8}: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
        return "\n".join(lines)


def read_listing(raw: Path, sources: list[Source]) -> pd.DataFrame:
    """Every row of every source's files.csv, with `source` and `path` (relative to raw/)."""
    missing = [s.slug for s in sources if not (raw / s.slug / "files.csv").is_file()]
    if missing:
        raise BuildError(
            f"not fetched into {raw}: {', '.join(missing)}; run `medcnn data fetch` first"
        )
    frames = []
    for source in sources:
        try:
            frame = read_files_csv(raw / source.slug)
        except ListingError as error:
            raise BuildError(str(error)) from None
        frame["namespace"] = source.patient_namespace
        frames.append(frame)
    listing = pd.concat(frames, ignore_index=True)
    return listing.sort_values(["source", "file"], kind="stable").reset_index(drop=True)


@dataclass
class Decoded:
    """One image's canonical pixels, original size, and duplicate-detection features."""

    pixels: np.ndarray
    width: int
    height: int
    dhash: np.ndarray
    thumb: np.ndarray


class DecodeCache:
    """Decoded images keyed by the SHA-1 of the file's bytes, kept between builds."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: dict[str, Decoded] = {}
        self.changed = False
        if path.is_file():
            with np.load(path) as stored:
                columns = (
                    stored[name] for name in ("keys", "pixels", "width", "height", "dhash", "thumb")
                )
                for key, pixels, width, height, dhash, thumb in zip(*columns, strict=True):
                    self.entries[str(key)] = Decoded(pixels, int(width), int(height), dhash, thumb)

    def add(self, key: str, decoded: Decoded) -> None:
        self.entries[key] = decoded
        self.changed = True

    def save(self, keys: list[str]) -> None:
        """Keep only `keys` (this build's images) and write atomically, if anything changed."""
        kept = list(dict.fromkeys(keys))
        if not self.changed and len(kept) == len(self.entries):
            return
        entries = [self.entries[key] for key in kept]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.tmp.npz")
        np.savez(
            tmp,
            keys=np.array(kept, dtype="U40"),
            pixels=np.stack([e.pixels for e in entries]),
            width=np.array([e.width for e in entries], dtype=np.int32),
            height=np.array([e.height for e in entries], dtype=np.int32),
            dhash=np.stack([e.dhash for e in entries]),
            thumb=np.stack([e.thumb for e in entries]),
        )
        tmp.replace(self.path)


def decode_file(content: bytes, size: int) -> Decoded:
    """Canonical pixels, original size and duplicate features of one image file's bytes."""
    gray = to_grayscale(open_image(content))
    pixels = square_resize(gray, size)
    return Decoded(pixels, gray.shape[1], gray.shape[0], *image_features(gray, pixels))


def decode_all(
    paths: list[str], raw: Path, size: int, cache: DecodeCache, report: BuildReport, progress: bool
) -> tuple[list[str | None], list[dict]]:
    """The cache key of every path (None when unreadable) and the unreadable files' errors."""
    keys: list[str | None] = []
    unreadable: list[dict] = []
    for path in tqdm(paths, desc="decode", unit="img", disable=not progress):
        try:
            content = (raw / path).read_bytes()
        except OSError as error:
            unreadable.append({"path": path, "error": f"cannot read file: {error.strerror}"})
            keys.append(None)
            continue
        key = hashlib.sha1(content).hexdigest()
        if key in cache.entries:
            report.from_cache += 1
        else:
            try:
                cache.add(key, decode_file(content, size))
            except ImageDecodeError as error:
                unreadable.append({"path": path, "error": str(error).splitlines()[0]})
                keys.append(None)
                continue
            report.decoded += 1
        keys.append(key)
    return keys, unreadable


def find_duplicates(
    paths: list[str],
    sources: list[str],
    images: list[Decoded],
    settings: BuildSettings,
    report: BuildReport,
) -> tuple[np.ndarray, list[dict], list[tuple[int, int]]]:
    """Which rows to keep, why the others were dropped, and the near-twin pairs within sources."""
    keep = np.ones(len(paths), dtype=bool)
    dropped: list[dict] = []
    first_seen: dict[str, int] = {}
    for row, image in enumerate(images):
        digest = pixel_digest(image.pixels)
        if digest in first_seen:
            keep[row] = False
            dropped.append(
                {
                    "path": paths[row],
                    "reason": "exact duplicate",
                    "duplicate_of": paths[first_seen[digest]],
                    "hash_distance": 0,
                    "correlation": 1.0,
                }
            )
        else:
            first_seen[digest] = row
    report.exact_duplicates = len(dropped)

    candidates = np.flatnonzero(keep)
    pairs: list = []
    for view in range(images[0].dhash.shape[0]):
        hashes = np.stack([images[row].dhash[view] for row in candidates])
        thumbs = thumbnail_vectors(np.stack([images[row].thumb[view] for row in candidates]))
        pairs += near_duplicate_pairs(
            hashes,
            thumbs,
            max(settings.duplicate_distance, settings.twin_distance, settings.copy_distance),
            min(settings.duplicate_correlation, settings.twin_correlation),
        )
    twins: list[tuple[int, int]] = []
    for pair in sorted(pairs, key=lambda p: (p.second, p.first, p.distance)):
        first, second = candidates[pair.first], candidates[pair.second]
        if sources[first] == sources[second]:
            if settings.is_near_twin(pair.distance, pair.correlation):
                twins.append((first, second))
        elif (
            keep[first]
            and keep[second]
            and settings.is_near_duplicate(pair.distance, pair.correlation)
        ):
            keep[second] = False
            dropped.append(
                {
                    "path": paths[second],
                    "reason": "near duplicate across sources",
                    "duplicate_of": paths[first],
                    "hash_distance": pair.distance,
                    "correlation": pair.correlation,
                }
            )
    report.near_duplicates_across_sources = len(dropped) - report.exact_duplicates
    twins = sorted({(a, b) for a, b in twins if keep[a] and keep[b]})
    report.near_twin_pairs_within_sources = len(twins)
    return keep, dropped, twins


def name_groups(listing: pd.DataFrame, twins: list[tuple[int, int]]) -> list[str]:
    """Join rows sharing a patient (per upstream namespace) or near twins; name each group."""
    namespaces, patients = list(listing["namespace"]), list(listing["patient_id"])
    sources, files = list(listing["source"]), list(listing["file"])
    sets = UnionFind(len(listing))
    first_of_patient: dict[tuple[str, str], int] = {}
    for row, key in enumerate(zip(namespaces, patients, strict=True)):
        if key[1]:
            sets.union(row, first_of_patient.setdefault(key, row))
    for first, second in twins:
        sets.union(first, second)
    names: dict[int, str] = {}
    for row in range(len(listing)):
        root = sets.find(row)
        if root not in names:
            names[root] = (
                f"{namespaces[root]}:{patients[root]}"
                if patients[root]
                else f"{sources[root]}:{Path(files[root]).stem}"
            )
    return [names[sets.find(row)] for row in range(len(listing))]


def split_rows(listing: pd.DataFrame, settings: BuildSettings) -> list[str]:
    """The split of every row: whole external sources, the rest by group and source."""
    external = listing["source"].isin(settings.external_sources)
    leaking = set(listing.loc[external, "group"]) & set(listing.loc[~external, "group"])
    if leaking:
        raise BuildError(f"groups span external and training sources: {sorted(leaking)[:5]}")
    internal = listing.loc[~external]
    assignment = assign_splits(
        list(internal["group"]), list(internal["source"]), settings.split_fractions, settings.seed
    )
    return [
        EXTERNAL if is_external else assignment[group]
        for is_external, group in zip(external, listing["group"], strict=True)
    ]


def build_dataset(
    raw: Path | None = None,
    processed: Path | None = None,
    settings: BuildSettings | None = None,
    sources: list[Source] | None = None,
    progress: bool = True,
) -> BuildReport:
    """Build `manifest.csv` and its pixels from the fetched sources; returns the report."""
    raw = Path(raw or raw_dir())
    processed = Path(processed or processed_dir())
    settings = settings or load_settings()
    sources = sources if sources is not None else load_sources()
    unknown = set(settings.external_sources) - {s.slug for s in sources}
    if unknown:
        raise BuildError(f"external sources not in sources.yml: {sorted(unknown)}")

    report = BuildReport()
    listing = read_listing(raw, sources)
    report.images_listed = len(listing)
    cache = DecodeCache(processed / "cache" / f"canonical-{settings.image_size}.npz")
    keys, unreadable = decode_all(
        list(listing["path"]), raw, settings.image_size, cache, report, progress
    )
    cache.save([key for key in keys if key])
    report.unreadable = len(unreadable)

    listing["key"] = keys
    listing = listing.loc[listing["key"].notna()].reset_index(drop=True)
    images = [cache.entries[key] for key in listing["key"]]
    keep, dropped, twins = find_duplicates(
        list(listing["path"]), list(listing["source"]), images, settings, report
    )
    position = {row: index for index, row in enumerate(np.flatnonzero(keep))}
    twins = [(position[a], position[b]) for a, b in twins]
    listing = listing.loc[keep].reset_index(drop=True)
    images = [image for image, kept in zip(images, keep, strict=True) if kept]

    listing["group"] = name_groups(listing, twins)
    listing["split"] = split_rows(listing, settings)
    listing["hash"] = [pixel_digest(image.pixels) for image in images]
    listing["width"] = [image.width for image in images]
    listing["height"] = [image.height for image in images]

    group_sizes = listing["group"].value_counts()
    report.images_kept = len(listing)
    report.groups = int(group_sizes.size)
    report.largest_group = int(group_sizes.max())
    report.per_split = {
        split: {label: int(n) for label, n in frame["label"].value_counts().sort_index().items()}
        for split, frame in listing.groupby("split", sort=False)
    }

    write_manifest(listing, np.stack([image.pixels for image in images]), processed)
    write_table(
        processed / "duplicates.csv",
        dropped,
        ("path", "reason", "duplicate_of", "hash_distance", "correlation"),
    )
    write_table(processed / "unreadable.csv", unreadable, ("path", "error"))
    write_atomic(
        processed / "build_report.json",
        (json.dumps({"settings": asdict(settings), **asdict(report)}, indent=2) + "\n").encode(),
    )
    return report


def write_table(path: Path, rows: list[dict], columns: tuple[str, ...]) -> None:
    frame = pd.DataFrame(rows, columns=list(columns))
    write_atomic(path, frame.to_csv(index=False, lineterminator="\n").encode())
