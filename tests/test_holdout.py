"""Held-out sources: folds hold out whole groups, and the committed results match the code."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from medcnn.artifacts import manifest_digest
from medcnn.training.holdout import (
    CANDIDATES,
    FOLDS,
    Fold,
    candidate_seeds,
    fold_data,
    held_out_mask,
    holdout_table,
    read_results,
    results_path,
    seed_spread,
)


def manifest_rows() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "source": ["lungct", "lungct", "mixed", "mixed", "mixed", "xr", "xr"],
            "modality": ["CT", "CT", "CT", "XR", "XR", "XR", "XR"],
            "group": ["a", "b", "p1", "p1", "p2", "x1", "x2"],
            "label": ["lung"] * 7,
        }
    )


def test_held_out_rows_take_their_whole_group_along() -> None:
    rows = manifest_rows()
    mask = held_out_mask(rows, Fold("T", (("mixed", "CT"),)))
    assert mask.tolist() == [False, False, True, True, False, False, False]
    mask = held_out_mask(rows, Fold("T", (("lungct", None),)))
    assert mask.tolist() == [True, True, False, False, False, False, False]


def test_a_fold_trains_without_its_held_out_images() -> None:
    rows = manifest_rows()
    images = np.arange(len(rows))[:, None, None, None]
    labels = np.ones(len(rows), dtype=np.int32)
    pool = {"train": (images, labels, rows), "val": (images + 100, labels, rows)}
    data = fold_data(Fold("T", (("mixed", "CT"),)), pool)
    held = set(data["held_out"][0].ravel())
    assert held == {2, 3, 102, 103}
    assert not held & set(data["train"][0].ravel()) and not held & set(data["val"][0].ravel())
    assert len(data["train"][2]) == len(data["train"][1]) == 5


def fake_results(scores: dict[int, float]) -> dict:
    def fold(score: float) -> dict:
        return {
            "held_out": {"macro_f1": score, "recall": {"lung": score}},
            "val": {"macro_f1": 0.99},
            "seconds": 10.0,
        }

    runs = {str(seed): {"A": fold(score), "B": fold(score - 0.1)} for seed, score in scores.items()}
    return {"candidates": {"c": {"recipe": {}, "runs": runs}}}


def test_the_table_has_a_row_per_candidate_and_seed() -> None:
    results = fake_results({0: 0.9, 1: 0.8})
    table = holdout_table(results)
    assert table.loc[("c", 1), "fold A macro-F1"] == pytest.approx(0.8)
    assert table.loc[("c", 0), "mean held-out macro-F1"] == pytest.approx(0.85)
    assert table.loc[("c", 0), "training s"] == pytest.approx(20.0)
    assert seed_spread(results, "c").to_dict() == pytest.approx({0: 0.85, 1: 0.75})


def test_folds_hold_out_a_lung_ct_source_each() -> None:
    for fold in FOLDS:
        assert any(modality == "CT" or "ct" in source for source, modality in fold.held_out)


def test_the_committed_results_cover_the_current_candidates() -> None:
    if not results_path().is_file():
        pytest.fail(f"{results_path()} is missing: run `make holdout`")
    results = read_results()
    assert results["manifest_sha256"] == manifest_digest()
    assert set(results["candidates"]) == set(CANDIDATES)
    for name, recipe in CANDIDATES.items():
        entry = results["candidates"][name]
        assert entry["recipe"] == recipe.settings()
        assert sorted(map(int, entry["runs"])) == sorted(candidate_seeds(name))
        assert all(set(folds) == {f.name for f in FOLDS} for folds in entry["runs"].values())
