"""Held-out sources: folds hold out whole groups, earlier runs are kept only while nothing
they depend on changed, and the committed results match the code."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from medcnn.config import CLASSES
from medcnn.data.manifest import read_manifest
from medcnn.modeling.artifacts import manifest_digest
from medcnn.presentation import training
from medcnn.presentation.training import (
    candidates_table,
    first_looks,
    numbered,
    replicate_seeds,
    selection_verdict,
    spread_markdown,
    verdict_markdown,
)
from medcnn.training import holdout
from medcnn.training.holdout import (
    BLOCK_13,
    CANDIDATES,
    FOLDS,
    RELEASE,
    Fold,
    candidate_seeds,
    fold_data,
    held_out_mask,
    held_out_rows,
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
    return {"folds": {"A": {}, "B": {}}, "candidates": {"c": {"recipe": {}, "runs": runs}}}


def test_the_table_has_a_row_per_candidate_and_seed() -> None:
    results = fake_results({0: 0.9, 1: 0.8})
    table = holdout_table(results)
    assert table.loc[("c", 1), "fold A macro-F1"] == pytest.approx(0.8)
    assert table.loc[("c", 0), "mean held-out macro-F1"] == pytest.approx(0.85)
    assert table.loc[("c", 0), "training s"] == pytest.approx(20.0)
    assert table.loc[("c", 0), "machine"] == "2 CPU cores, 0 GPUs"
    assert seed_spread(results, "c").to_dict() == pytest.approx({0: 0.85, 1: 0.75})


def test_a_run_that_has_not_reached_every_fold_is_left_out() -> None:
    results = fake_results({0: 0.9, 1: 0.8})
    del results["candidates"]["c"]["runs"]["1"]["B"]
    assert list(holdout_table(results).index) == [("c", 0)]
    assert list(candidates_table(results).index) == [("c", 0)]
    assert seed_spread(results, "c").to_dict() == pytest.approx({0: 0.85})


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
    monkeypatch.setattr(holdout, "generic_features", lambda: lambda images: images[:, 0, 0])
    monkeypatch.setattr(holdout, "held_out_novelty", lambda fold, pool, generic: [[1.0] * 3])
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
    changed["candidates"][BLOCK_13]["recipe"]["working_size"] = 128
    path.write_text(json.dumps(changed))
    holdout.run_holdout(path, tmp_path, log=lambda _: None)
    runs_of_fold = sum(len(candidate_seeds(name)) for name in CANDIDATES)
    release_elsewhere = len(candidate_seeds(BLOCK_13)) * (len(FOLDS) - 1)
    assert len(trained) == everything + runs_of_fold + release_elsewhere


def test_held_out_images_are_measured_against_the_rest_of_the_pool_only() -> None:
    rng = np.random.default_rng(0)
    # kinds 0-2 are the classes' usual images; 3 is a kind no other source shows (class 2)
    # and 4 a further source of kind 0 (class 0)
    directions, kind_labels = np.eye(4)[[0, 1, 2, 3, 0]], [0, 1, 2, 2, 0]

    def split(counts: list[int]) -> tuple:
        kinds = np.repeat(np.arange(5), counts)
        features = directions[kinds] + 0.05 * rng.normal(size=(len(kinds), 4))
        features /= np.linalg.norm(features, axis=1, keepdims=True)
        rows = pd.DataFrame(
            {
                "source": [f"s{kind}" for kind in kinds],
                "modality": ["MRI"] * len(kinds),
                "group": [f"g{i}" for i in range(len(kinds))],
            }
        )
        return features, (None, np.asarray(kind_labels)[kinds], rows)

    (train_features, train), (val_features, val) = (
        split([20] * 3 + [6, 6]),
        split([10] * 3 + [3, 3]),
    )
    pool, generic = {"train": train, "val": val}, {"train": train_features, "val": val_features}
    fold = Fold("T", (("s3", None), ("s4", None)))
    ratios = np.asarray(holdout.held_out_novelty(fold, pool, generic))
    assert ratios.shape == (18, 3)  # every held-out image (train rows, then val), every class
    unseen_kind = np.r_[np.ones(6, bool), np.zeros(6, bool), np.ones(3, bool), np.zeros(3, bool)]
    assert (ratios[unseen_kind] > 5).all()
    assert (ratios[~unseen_kind, 0] < 2).all()  # a new source of a familiar kind is not novel
    assert (ratios[~unseen_kind, 1:] > 5).all()  # ...except against the other classes


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
        images = sum(results["folds"][fold.name]["held_out_images"].values())
        assert np.shape(results["folds"][fold.name]["novelty"]) == (images, len(CLASSES))
    rows = held_out_rows(read_manifest())
    for fold in FOLDS:  # the rows line up with every run's images
        run = results["candidates"][BLOCK_13]["runs"]["0"][fold.name]["images"]
        here = rows[rows["fold"] == fold.name]
        assert here["source"].tolist() == run["source"]
        assert here["label"].map(CLASSES.index).tolist() == run["label"]


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


def test_a_first_look_passes_only_ahead_of_the_baseline_with_val_not_lower() -> None:
    results = fake_results({0: 0.9, 1: 0.85})
    results["candidates"] = {BLOCK_13: results["candidates"]["c"]}
    figures = {(BLOCK_13, 0): (0.9, 0.12)}
    looks = (("ahead", 0.95, 0.99, 0.10), ("behind", 0.85, 0.99, 0.10), ("val", 0.95, 0.98, 0.10))
    for name, score, val, its_unsure in (*looks, ("unsure", 0.95, 0.99, 0.14)):
        entry = fake_results({0: score})["candidates"]["c"]
        for fold in entry["runs"]["0"].values():
            fold["val"]["macro_f1"] = val
        results["candidates"][name] = entry
        figures[(name, 0)] = (score, its_unsure)
    results["candidates"]["unfinished"] = fake_results({1: 0.99})["candidates"]["c"]
    figures[("unfinished", 1)] = (0.99, 0.01)
    table = first_looks(results, figures_table(figures))
    assert list(table.index) == ["ahead", "behind", "val", "unsure"]  # seed 0 of the others
    assert table["passes on macro-F1 and val"].tolist() == [True, False, False, True]
    assert table["ahead on both figures"].tolist() == [True, False, True, False]
    assert table.loc["ahead", f"lead over {BLOCK_13}"] == pytest.approx(0.05)
    # held-out macro-F1 as the selection table pooled it, not the runs' mean over folds
    assert table.loc["ahead", "mean held-out macro-F1"] == pytest.approx(0.95)
    assert table.loc["unsure", "unsure at the bound"] == pytest.approx(0.14)


def test_an_ensemble_wins_only_ahead_on_both_counts_over_three_seeds() -> None:
    def table(ensemble: list[tuple[float, float]], seeds: tuple[int, ...] = (0, 1, 2)):
        rows = {(BLOCK_13, seed): (0.90, 0.15) for seed in (0, 1, 2)}
        rows |= {("e", seed): figures for seed, figures in zip(seeds, ensemble, strict=True)}
        frame = pd.DataFrame(rows, index=["mean held-out macro-F1", "unsure at the bound"]).T
        return frame.rename_axis(["recipe", "seed"])

    verdict = selection_verdict(table([(0.92, 0.12), (0.90, 0.14), (0.91, 0.13)]), "e")
    assert verdict["wins"] and verdict["macro_f1"]["e"] == pytest.approx(0.91)
    assert not selection_verdict(table([(0.92, 0.16)] * 3), "e")["wins"]  # more unsure
    assert not selection_verdict(table([(0.89, 0.10)] * 3), "e")["wins"]  # lower macro-F1
    two_seeds = selection_verdict(table([(0.95, 0.10)] * 2, (0, 1)), "e")
    assert two_seeds["leads"] and not two_seeds["wins"]
    assert two_seeds["seeds"] == [0, 1] and two_seeds["macro_f1"][BLOCK_13] == pytest.approx(0.90)


def test_a_first_look_at_an_ensemble_compares_seed_0_with_seed_0() -> None:
    rows = {(RELEASE, seed): (0.90 + seed / 100, 0.15) for seed in (0, 1, 2)}
    rows |= {("e", 0): (0.905, 0.14)}
    frame = pd.DataFrame(rows, index=["mean held-out macro-F1", "unsure at the bound"]).T
    verdict = selection_verdict(frame.rename_axis(["recipe", "seed"]), "e", RELEASE)
    assert verdict["seeds"] == [0] and verdict["leads"] and not verdict["wins"]
    assert verdict["macro_f1"][RELEASE] == pytest.approx(0.90)


def figures_table(rows: dict[tuple[str, int], tuple[float, float]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, index=["mean held-out macro-F1", "unsure at the bound"]).T
    return frame.rename_axis(["recipe", "seed"])


def test_a_verdict_leaves_out_seeds_beyond_those_its_rule_was_set_over() -> None:
    rows = {(BLOCK_13, seed): (0.90, 0.15) for seed in (0, 1, 2)} | {(BLOCK_13, 3): (0.99, 0.01)}
    rows |= {("e", seed): (0.91, 0.14) for seed in (0, 1, 2, 3)}
    verdict = selection_verdict(figures_table(rows), "e")
    assert verdict["seeds"] == [0, 1, 2] and verdict["wins"]
    assert verdict["macro_f1"][BLOCK_13] == pytest.approx(0.90)
    sentence = verdict_markdown(verdict, "e", BLOCK_13)
    assert sentence.startswith("**e** (over seeds 0, 1 and 2)")
    assert f"so by its rule it replaces {BLOCK_13}" in sentence


def test_replicates_are_judged_against_every_seed_their_runs_used(monkeypatch) -> None:
    monkeypatch.setitem(training.REPLICATES, "twice", ((BLOCK_13,), 2))
    rows = {(BLOCK_13, seed): (0.90 + seed / 100, 0.15) for seed in range(4)}
    rows |= {("twice", replicate): (0.92, 0.14) for replicate in (0, 1)}
    verdict = selection_verdict(figures_table(rows), "twice", BLOCK_13)
    assert verdict["seeds"] == [0, 1] and verdict["incumbent_seeds"] == [0, 1, 2, 3]
    assert verdict["macro_f1"][BLOCK_13] == pytest.approx(0.915)  # seeds 0-3, not 0-1
    assert verdict["leads"] and not verdict["wins"]  # two replicates of three
    sentence = verdict_markdown(verdict, "twice", BLOCK_13)
    assert "replicates 0 and 1, against" in sentence and "under seeds 0, 1, 2 and 3" in sentence
    assert "0.9200 against 0.9150" in sentence and "remaining seeds are the next runs" in sentence
    behind = selection_verdict(
        figures_table(rows | {("twice", 1): (0.92, 0.16)}), "twice", BLOCK_13
    )
    assert "not ahead on both, so by its rule" in verdict_markdown(behind, "twice", BLOCK_13)


def test_a_replicate_needs_every_one_of_its_seeds() -> None:
    results = fake_results({0: 0.9, 1: 0.9, 2: 0.9, 3: 0.9, 4: 0.9})
    assert replicate_seeds(results, ("c",), 2) == {0: ("0", "1"), 1: ("2", "3")}
    assert replicate_seeds(results, ("c",), 3) == {0: ("0", "1", "2")}
    gaps = fake_results({0: 0.9, 1: 0.9, 6: 0.9, 7: 0.9, 8: 0.9})
    assert replicate_seeds(gaps, ("c",), 2) == {0: ("0", "1"), 3: ("6", "7")}


def test_replicates_win_with_three_and_meet_their_own_seeds(monkeypatch) -> None:
    monkeypatch.setitem(training.REPLICATES, "twice", ((BLOCK_13,), 2))
    rows = {(BLOCK_13, seed): (0.90 + seed / 100, 0.15) for seed in range(8)}
    only_second = selection_verdict(figures_table(rows | {("twice", 1): (0.95, 0.1)}), "twice")
    assert only_second["incumbent_seeds"] == [2, 3]
    assert only_second["macro_f1"][BLOCK_13] == pytest.approx(0.925)
    four = {("twice", k): (0.99, 0.1) for k in range(4)}
    verdict = selection_verdict(figures_table(rows | four), "twice")
    assert verdict["seeds"] == [0, 1, 2] and verdict["incumbent_seeds"] == list(range(6))
    assert verdict["wins"]


def test_seeds_are_numbered_in_prose() -> None:
    assert numbered("seed", []) == "no seed"
    assert numbered("seed", [3]) == "seed 3"
    assert numbered("replicate", [0, 1]) == "replicates 0 and 1"
    assert numbered("seed", [0, 1, 2]) == "seeds 0, 1 and 2"


def test_a_spread_names_the_lowest_and_highest_of_both_figures() -> None:
    rows = {("e", seed): (0.90 + seed / 100, 0.15 - seed / 100) for seed in (0, 1, 2)}
    rows |= {(BLOCK_13, 0): (0.5, 0.5)}
    sentence = spread_markdown(figures_table(rows), "e", unit="replicate")
    assert sentence.startswith("**e**, replicates 0, 1 and 2:")
    assert "from 0.9000 to 0.9200" in sentence and "from 13.0% to 15.0%" in sentence
