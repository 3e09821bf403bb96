"""Held-out sources: folds hold out whole groups, earlier runs are kept only while nothing
they depend on changed, and the committed results match the code."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from medcnn.data.manifest import read_manifest
from medcnn.modeling.artifacts import manifest_digest
from medcnn.presentation.training import candidates_table
from medcnn.training import holdout
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
            "held_out": {
                "macro_f1": score,
                "recall": {"lung": score},
                "source_accuracy": {f"s{score}": score, f"t{score}": 1.0},
            },
            "val": {"macro_f1": 0.99},
            "seconds": 10.0,
            "conditions": {"cpu_cores": 2, "processor": "x86_64", "gpus": 0},
        }

    runs = {str(seed): {"A": fold(score), "B": fold(score - 0.1)} for seed, score in scores.items()}
    return {"candidates": {"c": {"recipe": {}, "runs": runs}}}


def test_the_table_has_a_row_per_candidate_and_seed() -> None:
    results = fake_results({0: 0.9, 1: 0.8})
    table = holdout_table(results)
    assert table.loc[("c", 1), "fold A macro-F1"] == pytest.approx(0.8)
    assert table.loc[("c", 0), "mean held-out macro-F1"] == pytest.approx(0.85)
    assert table.loc[("c", 0), "training s"] == pytest.approx(20.0)
    assert table.loc[("c", 0), "machine"] == "2 CPU cores, 0 GPUs"
    assert seed_spread(results, "c").to_dict() == pytest.approx({0: 0.85, 1: 0.75})


@pytest.mark.mirror
def test_every_kind_the_product_handles_is_held_out_in_some_fold_of_the_real_pool() -> None:
    pool = read_manifest()
    pool = pool[pool["split"].isin(["train", "val"])].reset_index(drop=True)
    every_fold, head_ct_folds = set(), 0
    for fold in FOLDS:
        held = pool[held_out_mask(pool, fold)]
        kinds = set(zip(held["label"], held["modality"], strict=True))
        assert ("lung", "CT") in kinds, fold.name
        head_ct_folds += ("brain", "CT") in kinds
        every_fold |= kinds
    assert head_ct_folds >= 3  # the three head CT collections in training, one per fold
    wanted = {
        ("brain", "MRI"),
        ("lung", "XR"),
        ("other", "photo"),
        ("other", "MRI"),
        ("other", "CT"),
    }
    assert wanted <= every_fold


def fake_pool(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int, str]]:
    """Replace data loading and training by stand-ins; returns the log of trained runs."""
    trained = []
    rows = pd.DataFrame(
        {
            "source": ["s"] * 4,
            "modality": ["CT"] * 4,
            "group": ["a", "b", "c", "d"],
            "label": ["lung"] * 4,
        }
    )
    arrays = (np.zeros((4, 1, 1, 1)), np.ones(4, dtype=np.int32), rows)

    def fake_run(recipe, data, workdir, seed):
        trained.append((recipe.size, seed, len(data["held_out"][1])))
        return {"held_out": {"macro_f1": 0.5}, "seconds": 1.0}

    monkeypatch.setattr(holdout, "split_arrays", lambda split: arrays)
    monkeypatch.setattr(holdout, "run_candidate", fake_run)
    monkeypatch.setattr("medcnn.modeling.artifacts.manifest_digest", lambda: "digest")
    return trained


def test_earlier_runs_are_kept_unless_the_fold_or_the_recipe_changed(
    tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    trained = fake_pool(monkeypatch)
    path = tmp_path / "holdout.json"
    everything = sum(len(candidate_seeds(name)) for name in CANDIDATES) * len(FOLDS)
    first = holdout.run_holdout(path, tmp_path, log=lambda _: None)
    assert len(trained) == everything
    assert json.loads(path.read_text()) == first

    holdout.run_holdout(path, tmp_path, log=lambda _: None)
    assert len(trained) == everything  # nothing changed: nothing trained

    changed = json.loads(path.read_text())
    changed["folds"][FOLDS[0].name]["held_out"] = [["another-source", None]]
    changed["candidates"]["release"]["recipe"]["working_size"] = 128
    path.write_text(json.dumps(changed))
    holdout.run_holdout(path, tmp_path, log=lambda _: None)
    runs_of_fold = sum(len(candidate_seeds(name)) for name in CANDIDATES)
    release_elsewhere = len(candidate_seeds("release")) * (len(FOLDS) - 1)
    assert len(trained) == everything + runs_of_fold + release_elsewhere


@pytest.mark.mirror  # compares with the built manifest
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
    for fold in FOLDS:
        assert results["folds"][fold.name]["held_out"] == [list(pair) for pair in fold.held_out]


def test_the_candidates_table_compares_recipes_and_seeds_over_every_fold() -> None:
    results = fake_results({0: 0.9, 1: 0.85})
    results["candidates"]["d"] = fake_results({0: 0.7})["candidates"]["c"]
    table = candidates_table(results)
    assert list(table.index) == [("c", 0), ("c", 1), ("d", 0)]
    assert table.loc[("c", 0), "fold B"] == pytest.approx(0.8)
    assert table.loc[("c", 1), "mean held-out macro-F1"] == pytest.approx(0.8)
    assert table.loc[("d", 0), "mean held-out macro-F1"] == pytest.approx(0.65)
    assert table.loc[("d", 0), "source accuracy, worst"] == pytest.approx(0.6)
    assert table.loc[("c", 0), "source accuracy, mean"] == pytest.approx((0.9 + 0.8 + 2) / 4)
