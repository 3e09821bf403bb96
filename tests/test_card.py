"""The model card tables read a card as `make_card` writes it, and the model's reference."""

from __future__ import annotations

import numpy as np

from medcnn.modeling.artifacts import make_card
from medcnn.modeling.features import fit_reference, save_reference
from medcnn.modeling.unsure import UnsureRule, save_rule
from medcnn.presentation.card import details_table, metrics_table


def card() -> dict:
    metrics = {
        split: {"images": 10, "accuracy": 0.9, "macro_f1": 0.8}
        for split in ("external", "val", "test")
    }
    training = {
        "title": "tiny",
        "parameters": 1234,
        "train_images": 30,
        "phases": [
            {"epochs": 2, "learning_rate": 1e-3, "unfreeze": 0.0},
            {"epochs": 1, "learning_rate": 1e-4, "unfreeze": 0.3},
        ],
        "batch_size": 8,
        "epochs_run": 3,
        "best_epoch": 2,
        "seconds": 12.0,
        "conditions": {"cpu_cores": 2, "gpus": 0},
        "source_power": 0.5,
        "modality_power": 0.5,
        "site_augmentation": {"probability": 0.5},
    }
    return make_card("tiny", 0, metrics=metrics, training=training)


def test_metrics_table_lists_the_splits_in_order() -> None:
    table = metrics_table(card())
    assert list(table.index) == ["val", "test", "external"]
    assert table.loc["test", "macro-F1"] == 0.8


def test_details_name_the_phases_and_the_alarm(tmp_path) -> None:
    model = tmp_path / "tiny.keras"
    model.write_bytes(b"x" * 2_000_000)
    details = details_table(card(), model)
    assert details["training"].startswith("2 epochs at 0.001, base frozen; 1 epoch at 0.0001")
    assert details["unfamiliar-input alarm"] == "none saved"
    rng = np.random.default_rng(0)
    features, labels = rng.normal(size=(60, 4)), np.repeat([0, 1, 2], 20)
    save_reference(fit_reference(features, labels, features), model)
    details = details_table(card(), model)
    assert "99% of validation" in details["unfamiliar-input alarm"]
    assert "; batch 8; site augmentation on, source balancing 0.5" in details["training"]
    assert "no rule was fitted" in details["unsure below"]
    no_ceiling = UnsureRule(min_probability=0.85, max_distance_ratio=float("inf"))
    save_rule(no_ceiling, model)
    details = details_table(card(), model)
    assert details["unsure below"].startswith("85% top probability")
    assert "not used" in details["unfamiliar-input alarm"]
    assert details["novelty alarm (brain and lung answers)"] == "none"


def test_an_ensemble_card_names_its_members_and_their_epochs(tmp_path) -> None:
    model = tmp_path / "pair.keras"
    model.write_bytes(b"x" * 1000)
    single = card()
    members = [
        {**single["training"], "title": title, "temperature": temperature, "best_epoch": best}
        for title, temperature, best in (("first", 0.8, 2), ("second", 1.2, 3))
    ]
    training = {**single["training"], "title": "pair", "members": members}
    details = details_table(make_card("pair", 1, training=training), model)
    assert details["epochs run (kept)"] == "3 (2) + 3 (3)"
    assert details["training"].endswith("; seed 1 (each member)")
    assert details["members"].startswith("first, seed 1, 1,234 parameters, logits divided by ")
    assert "temperature 1.20 on val" in details["members"]


def test_an_ensemble_under_several_seeds_names_each_networks_seed(tmp_path) -> None:
    model = tmp_path / "four.keras"
    model.write_bytes(b"x" * 1000)
    single = card()
    members = [
        {**single["training"], "title": "net", "seed": seed, "temperature": 1.0, "best_epoch": 1}
        for seed in (2, 3)
    ]
    training = {**single["training"], "title": "four", "members": members}
    details = details_table(make_card("four", 1, training=training), model)
    assert details["training"].endswith("; seeds 2 and 3 (each recipe)")
    assert details["members"].startswith("net, seed 2, ")
    assert "net, seed 3, " in details["members"]
