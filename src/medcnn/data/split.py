"""Group-aware, stratified assignment of images to train / val / test (external: whole sources)."""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence

SPLITS = ("train", "val", "test")
EXTERNAL = "external"


class UnionFind:
    """Disjoint sets over row indices; `union` joins two rows' groups."""

    def __init__(self, size: int) -> None:
        self.parent = list(range(size))

    def find(self, item: int) -> int:
        root = item
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[item] != root:
            self.parent[item], item = root, self.parent[item]
        return root

    def union(self, first: int, second: int) -> None:
        a, b = self.find(first), self.find(second)
        if a != b:
            self.parent[max(a, b)] = min(a, b)


def seeded_rank(key: str, seed: int) -> str:
    """A reproducible pseudo-random sort key: same key and seed, same rank, on any machine."""
    return hashlib.sha256(f"{seed}:{key}".encode()).hexdigest()


def assign_splits(
    groups: Sequence[str],
    strata: Sequence[str],
    fractions: Mapping[str, float],
    seed: int,
) -> dict[str, str]:
    """Map every group to a split so each stratum is divided close to `fractions`.

    Groups are indivisible. Within a stratum (the group's source), groups are
    taken largest first, ties in seeded order, and each goes to the split that
    lags its target count the most. Returns {group: split}.
    """
    sizes = Counter(groups)
    stratum_of = {}
    for group, stratum in zip(groups, strata, strict=True):
        stratum_of.setdefault(group, stratum)
    by_stratum: dict[str, list[str]] = defaultdict(list)
    for group, stratum in stratum_of.items():
        by_stratum[stratum].append(group)

    total = sum(fractions.values())
    assignment: dict[str, str] = {}
    for stratum in sorted(by_stratum):
        members = sorted(by_stratum[stratum], key=lambda g: (-sizes[g], seeded_rank(g, seed)))
        stratum_size = sum(sizes[g] for g in members)
        filled = dict.fromkeys(fractions, 0)
        for group in members:
            split = max(fractions, key=lambda s: fractions[s] / total * stratum_size - filled[s])
            assignment[group] = split
            filled[split] += sizes[group]
    return assignment
