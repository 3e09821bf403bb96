"""The seed spread's file: seeds measured now and seeds kept from the earlier file."""

from __future__ import annotations

import pytest

from medcnn.cli import main
from medcnn.presentation.training import seed_table
from medcnn.training.seeds import SeedsError, kept_entries, run_seeds, same_code_as_release


def entry(code: str) -> dict:
    scores = {
        "test": {"macro_f1": 0.99},
        "external": {
            "macro_f1": 0.95,
            "source_accuracy": {"a": 0.9, "b": 0.97},
            "abstention": {"all": {"unsure_rate": 0.1, "asserted_error_rate": 0.01}},
        },
        "open_set": {"all": {"asserted_brain_or_lung": 0, "images": 280}},
    }
    return {"rule": {}, "scores": scores, "code_sha256": code}


EARLIER = {"manifest_sha256": "data", "seeds": {"0": entry("old"), "1": entry("old")}}


def test_kept_seeds_come_from_an_earlier_file_on_the_same_dataset() -> None:
    assert kept_entries(EARLIER, [1], "data") == {"1": EARLIER["seeds"]["1"]}
    assert kept_entries(None, [], "data") == {}
    with pytest.raises(SeedsError, match=r"seeds \[2\]"):
        kept_entries(EARLIER, [1, 2], "data")
    with pytest.raises(SeedsError, match="on this dataset"):
        kept_entries(EARLIER, [1], "other data")
    with pytest.raises(SeedsError):
        kept_entries(None, [1], "data")


def test_a_seed_outside_the_spread_is_refused_before_anything_runs(tmp_path) -> None:
    with pytest.raises(SeedsError, match=r"seeds \[7\]"):
        run_seeds(tmp_path / "seeds.json", measure=(0, 7))
    assert not (tmp_path / "seeds.json").exists()


def test_the_cli_refuses_an_unknown_seed_or_a_measure_without_seeds_in_one_line(capsys) -> None:
    assert main(["train", "--seeds", "--measure", "7"]) == 1
    error = capsys.readouterr().err.strip()
    assert error.startswith("medcnn: error: seeds [7]") and "\n" not in error
    assert main(["train", "--measure", "0"]) == 1
    assert "add --seeds" in capsys.readouterr().err


def test_the_seed_table_says_which_seeds_the_release_code_trained() -> None:
    results = {"seeds": {"0": entry("new"), "1": entry("old"), "2": {**entry("new")}}}
    del results["seeds"]["2"]["code_sha256"]
    card = {"training": {"code_sha256": "new"}}
    assert same_code_as_release(results, card) == {0: True, 1: False, 2: False}
    table = seed_table(results, card)
    assert table["trained by the release's code"].tolist() == [True, False, False]
    assert table["worst external source"].tolist() == ["a"] * 3
    assert table["external macro-F1"].dtype == float
