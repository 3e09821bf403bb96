"""Tables and checks for the data-exploration notebook, computed from the manifest alone.

Nothing here re-scans the source folders: the manifest and its canonical pixels
hold everything, so the notebook shows exactly the dataset that training uses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from medcnn.config import CLASSES
from medcnn.data.dedup import difference_hash, near_duplicate_pairs, thumbnail, thumbnail_vectors
from medcnn.data.sources import Source
from medcnn.data.split import SPLITS

SPLIT_ORDER = (*SPLITS, "external")

SECOND_ROUND = (
    "abdomen-ct-btcv-synapse",
    "abdomen-mri-chaos-t2",
    "cardiac-mri-acdc",
    "cardiac-mri-la2018",
    "cardiac-mri-mscmrseg",
    "chest-ct-cc-ccii",
    "chest-ct-covid-ct-md",
    "chest-ct-covid19-ct-seg-ma",
    "chest-ct-kaggle-chest-ctscan-images",
    "chest-ct-medseg-covid19-sirm",
    "chest-ct-sarscov2-soares",
    "dermoscopy-ph2",
    "head-ct-ctich-hssayeni",
    "spine-xray-aasce-boostnet",
)
"""The sources the mirror added in its second round: more chest and head CT, and hard
negatives of other anatomy (abdominal CT and MRI, cardiac MRI, spine X-ray, dermoscopy)."""

THRESHOLDS = ((16, 0.98), (20, 0.96), (48, 0.99), (24, 0.95))
"""(max hash distance, min thumbnail correlation): the README criterion, the two criteria
the build groups by (near twins, and copies of low texture), and a looser one that shows
where the check stops."""


def short_commit(commit: str) -> str:
    """A git commit shortened to 10 hex digits; anything else (a wheel, a release) as recorded."""
    is_hex = len(commit) == 40 and all(c in "0123456789abcdef" for c in commit.lower())
    return commit[:10] if is_hex else commit


def source_table(sources: list[Source], manifest: pd.DataFrame) -> pd.DataFrame:
    """One row per source: label, modality, provenance, licence, images listed and kept, splits."""
    kept = manifest.groupby("source").size()
    modality = manifest.groupby("source")["modality"].agg(lambda m: ", ".join(sorted(set(m))))
    splits = manifest.groupby("source")["split"].agg(
        lambda s: ", ".join(split for split in SPLIT_ORDER if split in set(s))
    )
    rows = [
        {
            "source": source.slug,
            "label": source.label,
            "modality": modality.get(source.slug, ""),
            "repository": source.repository,
            "commit": short_commit(source.commit),
            "licence": source.licence,
            "reference": source.bibkey,
            "listed": source.images,
            "kept": int(kept.get(source.slug, 0)),
            "splits": splits.get(source.slug, ""),
        }
        for source in sources
    ]
    return pd.DataFrame(rows).sort_values(
        ["label", "kept"], ascending=[True, False], ignore_index=True
    )


def split_table(manifest: pd.DataFrame) -> pd.DataFrame:
    """Images per split (rows) and class (columns), with totals."""
    table = pd.crosstab(manifest["split"], manifest["label"], margins=True, margins_name="total")
    return table.reindex(index=[*SPLIT_ORDER, "total"], columns=[*CLASSES, "total"], fill_value=0)


def class_modality_table(manifest: pd.DataFrame) -> pd.DataFrame:
    """Images per class (rows) and modality (columns, most common first), with totals."""
    table = pd.crosstab(manifest["label"], manifest["modality"], margins=True, margins_name="total")
    modalities = table.loc["total"].drop("total").sort_values(ascending=False, kind="stable")
    return table.reindex(
        index=[*CLASSES, "total"], columns=[*modalities.index, "total"], fill_value=0
    )


def sample_indices(
    manifest: pd.DataFrame, slugs: Sequence[str], per_source: int, seed: int = 0
) -> np.ndarray:
    """Up to `per_source` random manifest rows of each source, source by source in `slugs` order."""
    rng = np.random.default_rng(seed)
    chosen = []
    for slug in slugs:
        rows = manifest.index[manifest["source"] == slug].to_numpy()
        if len(rows) == 0:
            raise ValueError(f"source {slug!r} has no image in the manifest")
        chosen.append(np.sort(rng.choice(rows, min(per_source, len(rows)), replace=False)))
    return np.concatenate(chosen)


@dataclass(frozen=True)
class DatasetSummary:
    """The headline figures of the dataset, for the notebook's prose."""

    images: int
    sources: int
    external_sources: dict[str, list[str]]
    """Class -> the sources kept whole in the external split."""
    fewest_training_sources: int
    """Fewest sources any one class draws on in training."""
    training_class_ratio: float
    """Images of the largest class over the smallest, in training."""

    def summary(self) -> str:
        external = "; ".join(
            f"{label}: {', '.join(slugs)}" for label, slugs in self.external_sources.items()
        )
        count = sum(len(slugs) for slugs in self.external_sources.values())
        return (
            f"{self.images:,} images from {self.sources} sources; "
            f"every class draws on at least {self.fewest_training_sources} sources in training, "
            f"where the largest class is {self.training_class_ratio:.2f} times the smallest; "
            f"{count} whole sources kept apart as the external split ({external})"
        )


def dataset_summary(manifest: pd.DataFrame) -> DatasetSummary:
    """Count images, sources and external sources; measure class balance in training."""
    train = manifest[manifest["split"] == "train"]
    per_class = train["label"].value_counts()
    external = manifest[manifest["split"] == "external"]
    return DatasetSummary(
        images=len(manifest),
        sources=manifest["source"].nunique(),
        external_sources={
            label: sorted(set(external.loc[external["label"] == label, "source"]))
            for label in CLASSES
            if (external["label"] == label).any()
        },
        fewest_training_sources=int(train.groupby("label")["source"].nunique().min()),
        training_class_ratio=float(per_class.max() / per_class.min()),
    )


def source_split_table(manifest: pd.DataFrame) -> pd.DataFrame:
    """Images per source (rows) and split (columns): every source is spread 70/15/15 or external."""
    table = pd.crosstab([manifest["label"], manifest["source"]], manifest["split"])
    return table.reindex(columns=list(SPLIT_ORDER), fill_value=0)


def canonical_features(pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """256-bit difference hashes (N, 4) and unit thumbnail vectors (N, 1024) of canonical images."""
    hashes = np.stack([difference_hash(image) for image in pixels])
    thumbs = thumbnail_vectors(np.stack([thumbnail(image) for image in pixels]))
    return hashes, thumbs


def near_pairs_frame(pixels: np.ndarray) -> pd.DataFrame:
    """Every pair of canonical images alike at the loosest of `THRESHOLDS`."""
    loosest_distance = max(distance for distance, _ in THRESHOLDS)
    loosest_correlation = min(correlation for _, correlation in THRESHOLDS)
    hashes, thumbs = canonical_features(pixels)
    pairs = near_duplicate_pairs(hashes, thumbs, loosest_distance, loosest_correlation)
    return pd.DataFrame(
        [(p.first, p.second, p.distance, p.correlation) for p in pairs],
        columns=["first", "second", "distance", "correlation"],
    )


def random_image_split(count: int, seed: int = 0) -> np.ndarray:
    """What the original project did: each image drawn into train/val/test at 70/15/15."""
    return np.random.default_rng(seed).choice(np.array(SPLITS), size=count, p=[0.70, 0.15, 0.15])


def leakage_table(manifest: pd.DataFrame, pairs: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """Near-duplicate pairs across splits, per threshold: medcnn's group split vs a random one.

    The random split is drawn over the same non-external images, so the two
    columns differ only in how the images were assigned.
    """
    internal = manifest["split"].to_numpy() != "external"
    random_split = np.array(manifest["split"], dtype=object)
    random_split[internal] = random_image_split(int(internal.sum()), seed)
    splits = manifest["split"].to_numpy()
    rows = []
    for max_distance, min_correlation in THRESHOLDS:
        alike = pairs[
            (pairs["distance"] <= max_distance) & (pairs["correlation"] >= min_correlation)
        ]
        first, second = alike["first"].to_numpy(), alike["second"].to_numpy()
        both_internal = internal[first] & internal[second]
        rows.append(
            {
                "max hash distance": max_distance,
                "min correlation": min_correlation,
                "alike pairs": len(alike),
                "across splits (medcnn)": int((splits[first] != splits[second]).sum()),
                "across splits (random image split)": int(
                    (both_internal & (random_split[first] != random_split[second])).sum()
                ),
            }
        )
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class GroupCheck:
    """How groups sit across splits: the split is honest only if `groups_across_splits` is 0."""

    groups: int
    largest_group: int
    groups_across_splits: int
    sources_in_two_kinds_of_split: int

    def summary(self) -> str:
        return (
            f"{self.groups:,} groups (largest {self.largest_group}); "
            f"{self.groups_across_splits} cross a split; "
            f"{self.sources_in_two_kinds_of_split} sources are both external and internal"
        )


def group_check(manifest: pd.DataFrame) -> GroupCheck:
    """Count groups that span splits, and sources that are split between external and the rest."""
    sizes = manifest.groupby("group").size()
    per_group = manifest.groupby("group")["split"].nunique()
    is_external = manifest["split"] == "external"
    per_source = is_external.groupby(manifest["source"]).nunique()
    return GroupCheck(
        groups=len(sizes),
        largest_group=int(sizes.max()),
        groups_across_splits=int((per_group > 1).sum()),
        sources_in_two_kinds_of_split=int((per_source > 1).sum()),
    )
