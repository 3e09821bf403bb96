"""The committed release model is the one the current dataset and code would train, and
`medcnn evaluate` scores it exactly as its card records."""

from __future__ import annotations

import json

import pytest

from medcnn.cli import main
from medcnn.modeling.artifacts import manifest_digest, read_card, release_model_path
from medcnn.training import seeds
from medcnn.training.recipes import (
    RELEASE_MEMBERS,
    RELEASE_TITLE,
    SEEDS_PER_MEMBER,
    release_networks,
)
from medcnn.training.run import code_fingerprint, release_matches

pytestmark = pytest.mark.mirror


def test_the_release_card_matches_the_dataset_the_recipe_and_the_code() -> None:
    card = read_card(release_model_path())
    assert card["manifest_sha256"] == manifest_digest()
    assert card["training"]["code_sha256"] == code_fingerprint()
    assert release_matches(card, card["seed"])
    assert card["training"]["title"] == RELEASE_TITLE
    networks = [(member["recipe"], member["seed"]) for member in card["training"]["members"]]
    assert networks == list(release_networks(card["seed"]))


def test_evaluate_gives_the_card_macro_f1_to_the_last_digit(tmp_path, capsys) -> None:
    out = tmp_path / "test.json"
    assert main(["evaluate", "--split", "test", "--json", str(out), "--resamples", "20"]) == 0
    report = json.loads(out.read_text())
    card = read_card(release_model_path())
    assert report["macro_f1"] == card["metrics"]["test"]["macro_f1"]
    assert report["accuracy"] == card["metrics"]["test"]["accuracy"]
    assert "asserted_error_rate" in report["abstention"]["all"]
    assert "unsure rule" in capsys.readouterr().out


def test_the_seed_spread_was_measured_on_this_release() -> None:
    spread = seeds.read_results()
    card = read_card(release_model_path())
    assert spread["manifest_sha256"] == manifest_digest()
    assert spread["members"] == list(RELEASE_MEMBERS)
    assert spread["seeds_per_member"] == SEEDS_PER_MEMBER
    assert sorted(map(int, spread["seeds"])) == list(seeds.SEEDS)
    assert spread["seeds"]["0"]["code_sha256"] == card["training"]["code_sha256"]
    release = spread["seeds"]["0"]["scores"]
    for split in ("test", "external"):
        assert release[split]["macro_f1"] == card["metrics"][split]["macro_f1"]
