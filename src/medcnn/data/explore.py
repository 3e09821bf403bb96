"""Tables and checks for the data-exploration notebook, computed from the manifest alone.

Nothing here re-scans the source folders: the manifest and its canonical pixels
hold everything, so the notebook shows exactly the dataset that training uses.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from medcnn.config import CLASSES
from medcnn.data.dedup import difference_hash, near_duplicate_pairs, thumbnail, thumbnail_vectors
from medcnn.data.sources import Source
from medcnn.data.split import SPLITS

SPLIT_ORDER = (*SPLITS, "external")

THRESHOLDS = ((16, 0.98), (20, 0.96), (48, 0.99), (24, 0.95))
"""(max hash distance, min thumbnail correlation): the README criterion, the two criteria
the build groups by (near twins, and copies of low texture), and a looser one that shows
where the check stops."""


def source_table(sources: list[Source], manifest: pd.DataFrame) -> pd.DataFrame:
    """One row per source: label, modality, licence, images listed and kept, where they went."""
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
            "licence": source.licence,
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
