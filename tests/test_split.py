"""Group splits: groups stay whole, strata are divided near the target fractions."""

from __future__ import annotations

from collections import Counter

from medcnn.data.split import UnionFind, assign_splits

FRACTIONS = {"train": 0.7, "val": 0.15, "test": 0.15}


def test_union_find_joins_transitively() -> None:
    sets = UnionFind(5)
    sets.union(0, 3)
    sets.union(3, 4)
    assert sets.find(4) == sets.find(0) != sets.find(1)


def test_groups_are_indivisible_and_fractions_are_close() -> None:
    groups = [f"g{i // 3}" for i in range(600)]  # 200 groups of three
    strata = ["a" if i < 300 else "b" for i in range(600)]
    assignment = assign_splits(groups, strata, FRACTIONS, seed=0)
    assert set(assignment) == set(groups)
    for stratum in ("a", "b"):
        counts = Counter(assignment[g] for g, s in zip(groups, strata, strict=True) if s == stratum)
        for split, fraction in FRACTIONS.items():
            assert abs(counts[split] / 300 - fraction) < 0.02


def test_same_seed_same_split_other_seed_other_split() -> None:
    groups = [f"g{i}" for i in range(200)]
    strata = ["a"] * 200
    first = assign_splits(groups, strata, FRACTIONS, seed=0)
    assert first == assign_splits(groups, strata, FRACTIONS, seed=0)
    assert first != assign_splits(groups, strata, FRACTIONS, seed=1)
