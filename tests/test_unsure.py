"""The "unsure" rule, the figures that judge it, its fitting on folds, and the open-set check."""

from __future__ import annotations

import copy
from itertools import product

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import f1_score

from medcnn.evaluation.abstention import abstention_by_group, abstention_figures, risk_coverage
from medcnn.evaluation.open_set import open_set, open_set_table
from medcnn.modeling.artifacts import ModelLoadError, release_model_path
from medcnn.modeling.novelty import fit_novelty, load_novelty
from medcnn.modeling.unsure import UnsureRule, load_rule, read_evidence, save_rule
from medcnn.presentation.training import rule_check, rule_on, rule_without, thresholds_text
from medcnn.training.abstention import (
    DISTANCE_GRID,
    ERROR_BOUND,
    NOVELTY_GRID,
    PROBABILITY_GRID,
    choose_thresholds,
    fit_rule,
    fold_images,
    fold_selection,
    grid_rates,
    out_of_fold,
    source_weights,
    unsure_under,
)
from medcnn.training.holdout import FOLDS, read_results


def test_abstention_figures_count_wrong_and_unflagged_among_all_images() -> None:
    right = np.array([True, True, False, False, True])
    unsure = np.array([False, True, True, False, False])
    figures = abstention_figures(right, unsure)
    assert figures["unsure_rate"] == pytest.approx(0.4)
    assert figures["asserted_error_rate"] == pytest.approx(0.2)  # image 4 only
    assert figures["accuracy_when_sure"] == pytest.approx(2 / 3)
    by_source = abstention_by_group(right, unsure, np.array(list("aabbb")))
    assert by_source["a"]["asserted_error_rate"] == 0.0
    assert by_source["b"]["images"] == 3


def test_risk_coverage_answers_the_most_confident_first() -> None:
    curve = risk_coverage(np.array([0.9, 0.8, 0.7, 0.6]), np.array([True, True, False, True]))
    assert curve["coverage"].tolist() == [0.25, 0.5, 0.75, 1.0]
    assert curve["risk"].tolist() == pytest.approx([0, 0, 1 / 3, 1 / 4])
    tied = risk_coverage(np.array([0.9, 0.9, 0.5]), np.array([True, False, True]))
    assert tied["coverage"].tolist() == pytest.approx([2 / 3, 1.0])


def test_the_rule_flags_low_probability_and_unfamiliar_images(tmp_path) -> None:
    rule = UnsureRule(temperature=2.0, min_probability=0.7, max_distance_ratio=1.5)
    probabilities = np.array([[0.98, 0.01, 0.01], [0.5, 0.3, 0.2], [0.01, 0.98, 0.01]])
    verdict = rule.judge(probabilities, np.array([0.5, 0.5, 2.0]))
    assert verdict["top_class"].tolist() == ["brain", "brain", "lung"]
    assert verdict["low_confidence"].tolist() == [False, True, False]
    assert verdict["unfamiliar"].tolist() == [False, False, True]
    assert verdict["unsure"].tolist() == [False, True, True]
    assert verdict["top_probability"][0] < 0.98  # a temperature above 1 softens
    save_rule(rule, tmp_path / "m.keras", {"val": {"unsure_rate": 0.1}})
    assert load_rule(tmp_path / "m.keras") == rule
    assert load_rule(tmp_path / "other.keras").fitted_on.startswith("defaults")


def test_the_grid_rates_are_those_of_each_rule_counted_image_by_image() -> None:
    rng = np.random.default_rng(3)
    count = 3000
    labels = rng.integers(0, 3, count)
    images = {
        "labels": labels,
        "predicted": np.where(rng.random(count) < 0.8, labels, rng.integers(0, 3, count)),
        "top": np.r_[rng.choice(PROBABILITY_GRID, 300), rng.uniform(0.34, 1.0, count - 300)],
        "distance_ratio": np.r_[
            rng.choice(DISTANCE_GRID[:-1], 300), rng.gamma(4, 0.3, count - 300)
        ],
        "novelty_ratio": np.where(rng.random(count) < 0.1, np.nan, rng.gamma(4, 0.25, count)),
        "source": rng.choice(["a", "b", "c", "d"], count, p=[0.7, 0.2, 0.07, 0.03]),
    }
    wrong = images["predicted"] != images["labels"]
    weights = source_weights(images["source"])
    asserted, unsure = grid_rates(images, wrong)
    grid = list(product(PROBABILITY_GRID, DISTANCE_GRID, NOVELTY_GRID))
    assert asserted.shape == unsure.shape == (len(grid),)
    for i in range(0, len(grid), 7):
        withheld = unsure_under(images, grid[i])
        assert asserted[i] == pytest.approx(weights @ (wrong & ~withheld), abs=1e-12)
        assert unsure[i] == pytest.approx(weights @ withheld, abs=1e-12)


def test_thresholds_withhold_the_unconfident_answers_when_they_are_the_wrong_ones() -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 2000)
    confident = rng.random(2000) < 0.9
    images = {
        "labels": labels,
        "predicted": np.where(confident, labels, (labels + 1) % 3),  # wrong when unconfident
        "top": np.where(confident, 0.97, 0.55),
        "distance_ratio": np.full(2000, 0.5),
        "novelty_ratio": np.full(2000, 0.5),
        "source": np.full(2000, "s"),
    }
    (probability, _, _), figures = choose_thresholds(images)
    assert 0.55 < probability <= 0.97  # every unconfident answer withheld, and no other
    assert figures["asserted_error_rate"] == 0.0
    assert figures["unsure_rate"] == pytest.approx(0.1, abs=0.02)
    images["labels"] = images["predicted"]  # now the unconfident answers are right
    (probability, _, _), figures = choose_thresholds(images)
    assert probability <= 0.55 and figures["unsure_rate"] == 0.0


def test_thresholds_keep_the_asserted_error_within_the_bound_at_the_least_unsure() -> None:
    # 2 % are wrong, hidden among 20 % of unconfident answers: withholding all of those is
    # the only way under the bound, though it withholds nine right answers for each wrong one
    count = 1000
    unconfident = np.arange(count) < 220
    images = {
        "labels": np.zeros(count, int),
        "predicted": np.where(np.arange(count) < 20, 1, 0),
        "top": np.where(unconfident, 0.6, 0.97),
        "distance_ratio": np.full(count, 0.5),
        "novelty_ratio": np.full(count, 0.5),
        "source": np.full(count, "s"),
    }
    (probability, _, _), figures = choose_thresholds(images)
    assert 0.6 < probability <= 0.97
    assert figures["asserted_error_rate"] <= ERROR_BOUND
    assert figures["unsure_rate"] == pytest.approx(0.22)
    images["top"] = np.full(count, 0.97)  # nothing tells the wrong answers apart: the
    (_, _, _), figures = choose_thresholds(images)  # bound is kept by withholding all
    assert figures["asserted_error_rate"] == 0.0 and figures["unsure_rate"] == 1.0


def test_when_no_rule_keeps_the_bound_the_one_that_exceeds_it_least_withholds_nothing() -> None:
    # wrong answers of `other` at probability 1: no floor or brain/lung ceiling reaches them
    count = 100
    images = {
        "labels": np.zeros(count, int),
        "predicted": np.where(np.arange(count) < 10, 2, 0),
        "top": np.ones(count),
        "distance_ratio": np.full(count, 0.5),
        "novelty_ratio": np.full(count, 0.5),
        "source": np.full(count, "s"),
    }
    thresholds, figures = choose_thresholds(images)
    assert thresholds == (min(PROBABILITY_GRID), float("inf"), float("inf"))
    assert figures["asserted_error_rate"] == pytest.approx(0.1)
    assert figures["unsure_rate"] == 0.0


def test_every_held_out_source_weighs_the_same_in_the_bound_however_many_images_it_has() -> None:
    # a large source always right, a small one with 10 % wrong at lower confidence: over all
    # images the errors fit within the bound, over sources they do not, so they are withheld
    large, small = 9900, 100
    wrong = np.r_[np.zeros(large, bool), np.arange(small) < 10]
    images = {
        "labels": np.zeros(large + small, int),
        "predicted": wrong.astype(int),
        "top": np.where(wrong, 0.8, 0.99),
        "distance_ratio": np.full(large + small, 0.5),
        "novelty_ratio": np.full(large + small, 0.5),
        "source": np.r_[np.full(large, "large"), np.full(small, "small")],
    }
    (probability, _, _), figures = choose_thresholds(images)
    assert 0.8 < probability <= 0.99
    assert figures["asserted_error_rate_over_sources"] == 0.0
    assert figures["unsure_rate"] == pytest.approx(0.001)
    assert figures["unsure_rate_over_sources"] == pytest.approx(0.05)
    images["source"] = np.full(large + small, "one")  # pooled, 0.1 % asserted is allowed
    (probability, _, _), figures = choose_thresholds(images)
    assert probability <= 0.8 and figures["asserted_error_rate"] == pytest.approx(0.001)


def test_novelty_withholds_only_brain_and_lung_answers() -> None:
    rule = UnsureRule(min_probability=0.5, max_novelty_ratio=1.0)
    probabilities = np.array([[0.9, 0.05, 0.05], [0.05, 0.05, 0.9], [0.05, 0.9, 0.05]])
    judged = rule.judge(probabilities, None, np.array([2.0, 2.0, 0.5]))
    assert judged["novel"].tolist() == [True, False, False]  # "other" may be novel
    assert judged["unsure"].tolist() == [True, False, False]
    rng = np.random.default_rng(0)
    wrong_and_novel = {
        "labels": np.zeros(1000, int),
        "predicted": np.where(np.arange(1000) < 100, 1, 0),  # 100 novel images called lung
        "top": np.full(1000, 0.99),
        "distance_ratio": np.full(1000, 0.5),
        "novelty_ratio": np.where(np.arange(1000) < 100, 2.0, rng.uniform(0, 0.5, 1000)),
        "source": np.full(1000, "s"),
    }
    (_, _, novelty), figures = choose_thresholds(wrong_and_novel)
    assert 0.5 <= novelty < 2.0 and figures["asserted_error_rate"] == 0.0


def test_novelty_is_measured_against_the_training_images_of_the_answered_class() -> None:
    rng = np.random.default_rng(0)

    def around(axis: int, count: int) -> np.ndarray:
        points = np.eye(8)[axis] + 0.1 * rng.normal(size=(count, 8))
        return points / np.linalg.norm(points, axis=1, keepdims=True)

    train = np.concatenate([around(0, 300), around(1, 300)])
    train_labels = np.repeat([0, 2], 300)  # brain near axis 0, other near axis 1
    val = np.concatenate([around(0, 100), around(1, 100)])
    reference = fit_novelty(train, train_labels, val, np.repeat([0, 2], 100))
    assert reference.neighbours.shape == (600, 8) and set(reference.classes) == {0, 2}
    like_other = around(1, 20)
    assert (reference.ratios(like_other, np.full(20, 2)) < 2).all()  # familiar as other
    assert (reference.ratios(like_other, np.zeros(20, int)) > 5).all()  # novel as brain
    assert np.median(reference.ratios(around(0, 100), np.zeros(100, int))) < 1


def test_a_novelty_reference_of_the_class_blind_format_is_refused(tmp_path) -> None:
    model = tmp_path / "m.keras"
    np.savez_compressed(model.with_suffix(".novelty.npz"), neighbours=np.zeros((3, 2)), threshold=1)
    with pytest.raises(ModelLoadError, match="earlier format"):
        load_novelty(model)


def test_the_open_set_is_the_same_every_run_and_its_failures_are_counted() -> None:
    scans = np.random.default_rng(1).integers(0, 255, (3, 128, 128), dtype=np.uint8)
    first, kinds = open_set(scans, per_kind=2)
    again, _ = open_set(scans, per_kind=2)
    assert first.shape == (14, 128, 128) and first.dtype == np.uint8
    assert np.array_equal(first, again)
    verdict = pd.DataFrame(
        {"top_class": ["lung", "other"] * 7, "unsure": [False, False, True, False] * 3 + [0, 0]}
    )
    verdict["unsure"] = verdict["unsure"].astype(bool)
    table = open_set_table(verdict, kinds)
    assert table.loc["all", "images"] == 14
    assert table.loc["all", "asserted_brain_or_lung"] == 4


def fold_results() -> dict:
    """Every fold with the same four held-out images, judged by candidates `x` and `y`."""

    def run(probabilities: list[list[float]], distance: float) -> dict:
        return {
            "temperature": 1.0,
            "images": {
                "label": [0, 1, 2, 0],
                "source": ["s", "s", "t", "t"],
                "probabilities": probabilities,
                "distance_ratio": [distance] * 4,
            },
        }

    right = [[0.9, 0.05, 0.05], [0.05, 0.9, 0.05], [0.05, 0.05, 0.9], [0.9, 0.05, 0.05]]
    half_wrong = [[0.2, 0.6, 0.2], [0.05, 0.9, 0.05], [0.6, 0.2, 0.2], [0.9, 0.05, 0.05]]
    novelty = [[0.5, 1.5, 2.5]] * 4
    return {
        "folds": {fold.name: {"novelty": novelty} for fold in FOLDS},
        "candidates": {
            "x": {"runs": {"0": {fold.name: run(right, 0.5) for fold in FOLDS}}},
            "y": {"runs": {"0": {fold.name: run(half_wrong, 2.0) for fold in FOLDS}}},
        },
    }


def test_fold_images_judge_by_the_mean_of_the_members_calibrated_logits() -> None:
    results = fold_results()
    alone = fold_images(results, ("y",), "0")
    assert alone["predicted"][:4].tolist() == [1, 1, 0, 0]
    assert alone["novelty_ratio"][:4].tolist() == [1.5, 1.5, 0.5, 0.5]  # for the class answered
    together = fold_images(results, ("x", "y"), "0")
    assert together["predicted"].tolist() == [0, 1, 2, 0] * len(FOLDS)
    geometric = np.sqrt(np.array([0.9 * 0.2, 0.05 * 0.6, 0.05 * 0.2]))
    assert together["top"][0] == pytest.approx(geometric[0] / geometric.sum())
    assert np.isnan(together["distance_ratio"]).all()  # measured in features no run had
    assert together["fold"].tolist() == [fold.name for fold in FOLDS for _ in range(4)]


def test_fold_images_under_several_seeds_merge_every_members_runs_under_each() -> None:
    results = fold_results()
    results["candidates"]["x"]["runs"]["1"] = results["candidates"]["y"]["runs"]["0"]
    two_seeds = fold_images(results, ("x",), ("0", "1"))
    two_members = fold_images(results, ("x", "y"), "0")
    assert two_seeds["predicted"].tolist() == two_members["predicted"].tolist()
    assert two_seeds["top"] == pytest.approx(two_members["top"])


def test_out_of_fold_judges_each_fold_by_a_rule_chosen_on_the_others() -> None:
    # Two right answers and a wrong one at 0.6 in every fold; the fourth image is right at
    # 0.95, except in fold A, where it is a mistake that confident.
    tops = [0.99, 0.99, 0.6, 0.95]
    images = {
        "labels": np.array([0, 1, 2, 0] * len(FOLDS)),
        "predicted": np.array([0, 1, 0, 0] * len(FOLDS)),
        "top": np.array(tops * len(FOLDS)),
        "distance_ratio": np.full(4 * len(FOLDS), np.nan),
        "novelty_ratio": np.full(4 * len(FOLDS), 0.5),
        "source": np.array(["s"] * 4 * len(FOLDS)),
        "fold": np.array([fold.name for fold in FOLDS for _ in range(4)]),
    }
    images["labels"][3] = 1
    _, in_sample = choose_thresholds(images)
    assert in_sample["asserted_error_rate"] == 0.0
    assert in_sample["unsure_rate"] == pytest.approx(0.5)
    held_out = out_of_fold(images)
    assert held_out["asserted_error_rate"] == pytest.approx(1 / 16)  # A's, missed
    # A's rule withholds only its 0.6; B-D's, shown A's mistake, withhold their 0.95 as well
    assert held_out["unsure_rate"] == pytest.approx(7 / 16)


def test_the_rule_check_sets_each_replicates_fitted_figures_beside_its_out_of_fold_ones() -> None:
    results = fold_results()
    runs = results["candidates"]["y"]["runs"]
    runs["3"] = copy.deepcopy(runs["0"])
    runs["3"]["A"]["images"]["label"] = [0, 1, 2, 1]  # fold A: a mistake at 0.9 as well
    table = rule_check(results, ("y",), per_replicate=1)
    assert table.index.tolist() == [0, 3]
    fitted, out_of_fold = "on the images it was chosen on", "chosen on the other folds"
    # every fold alike under seed 0: a rule chosen on the other three is the same rule
    assert table.loc[0, (fitted, "unsure")] == table.loc[0, (out_of_fold, "unsure")] == 0.5
    # seed 3: in sample, the 0.9 mistake takes every answer; out of fold, A's is missed
    assert table.loc[3, (fitted, "unsure")] == 1.0
    assert table.loc[3, (fitted, "asserted error")] == 0.0
    assert table.loc[3, (out_of_fold, "asserted error")] == pytest.approx(1 / 16)
    assert table.loc[3, (out_of_fold, "unsure")] == pytest.approx(14 / 16)


def test_a_rule_fitted_without_some_images_is_set_by_the_rest() -> None:
    results = fold_results()
    wrong = np.tile([True, False, True, False], len(FOLDS))  # y's two wrong answers a fold
    assert rule_without(results, np.zeros_like(wrong), ("y",), "0")["unsure_rate"] == 0.5
    without = rule_without(results, wrong, ("y",), "0")
    assert without["unsure_rate"] == 0.0 and without["images"] == 2 * len(FOLDS)
    assert without["thresholds"][0] == PROBABILITY_GRID[0]  # nothing left to withhold


def test_a_rule_on_chosen_images_counts_what_it_asserts_wrongly_and_what_it_answers() -> None:
    results = fold_results()
    mistakes = np.tile([True, False, True, False], len(FOLDS))  # y's 0.6 answers, both wrong
    low_floor = rule_on(results, mistakes, (0.5, np.inf, np.inf), ("y",), "0")
    assert low_floor["images"] == low_floor["wrong and asserted"] == 2 * len(FOLDS)
    assert low_floor["answered"] == {"brain": len(FOLDS), "lung": len(FOLDS), "other": 0}
    assert low_floor["median top probability"] == pytest.approx({"brain": 0.6, "lung": 0.6})
    assert rule_on(results, mistakes, (0.7, np.inf, np.inf), ("y",), "0")["wrong and asserted"] == 0
    right = rule_on(results, ~mistakes, (0.5, np.inf, np.inf), ("y",), "0")
    assert right["wrong and asserted"] == 0


def test_fold_selection_scores_each_fold_and_fits_a_rule_to_them() -> None:
    results = fold_results()
    assert fold_selection(results, ("x",), "0")["mean held-out macro-F1"] == pytest.approx(1.0)
    alone = fold_selection(results, ("y",), "0")
    assert alone["mean held-out macro-F1"] == pytest.approx(
        f1_score([0, 1, 2, 0], [1, 1, 0, 0], average="macro")
    )
    assert alone["asserted error at the bound"] <= ERROR_BOUND
    assert alone["unsure at the bound"] == pytest.approx(0.5)  # its two wrong answers


def test_an_ensembles_rule_keeps_temperature_one_as_its_folds_were_judged(tmp_path) -> None:
    results = fold_results()
    val = {
        "labels": np.array([0, 1, 2, 0]),
        "probabilities": np.array(
            [[0.6, 0.2, 0.2], [0.2, 0.6, 0.2], [0.2, 0.2, 0.6]] + [[1, 0, 0]]
        ),
        "distance_ratio": np.full(4, 0.5),
        "novelty_ratio": np.full(4, 0.5),
    }
    single = fit_rule(tmp_path / "single.keras", val, results, ("x",), "0")
    assert single.temperature != 1.0 and single.fitted_on.startswith("temperature on val")
    ensemble = fit_rule(tmp_path / "ensemble.keras", val, results, ("x", "y"), "0")
    assert ensemble.temperature == 1.0 and "each member's temperature" in ensemble.fitted_on
    assert load_rule(tmp_path / "ensemble.keras") == ensemble
    results["candidates"]["x"]["runs"]["1"] = results["candidates"]["y"]["runs"]["0"]
    two_seeds = fit_rule(tmp_path / "two_seeds.keras", val, results, ("x",), ("0", "1"))
    assert two_seeds.temperature == 1.0  # two networks of one recipe, merged


def test_the_release_rule_is_the_one_the_committed_fold_results_choose() -> None:
    """Notebook 03 sets the release's rule beside figures recomputed from the fold results:
    the two committed files must agree."""
    model = release_model_path()
    rule = load_rule(model)
    thresholds, figures = choose_thresholds(fold_images(read_results()))
    assert thresholds == (rule.min_probability, rule.max_distance_ratio, rule.max_novelty_ratio)
    assert figures == pytest.approx(read_evidence(model)["folds"])


def test_thresholds_in_words_name_a_missing_or_infinite_ceiling_none() -> None:
    assert thresholds_text((0.99, None, 1.0)) == (
        "floor 0.99, distance ceiling none, novelty ceiling 1"
    )
    assert thresholds_text((0.9, 1.25, float("inf"))).endswith("1.25, novelty ceiling none")
