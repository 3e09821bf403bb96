"""A model card as tables for the book: what the model is, how it scored, what it needs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from medcnn.modeling.artifacts import trainings
from medcnn.modeling.features import load_reference
from medcnn.modeling.unsure import load_rule


def metrics_table(card: dict[str, Any]) -> pd.DataFrame:
    """Accuracy and macro-F1 per split, as recorded when the model was trained."""
    rows = {
        split: {
            "images": figures["images"],
            "accuracy": figures["accuracy"],
            "macro-F1": figures["macro_f1"],
        }
        for split, figures in card["metrics"].items()
    }
    return pd.DataFrame.from_dict(rows, orient="index").reindex(["val", "test", "external"])


def recipe_text(member: dict[str, Any]) -> str:
    """One recipe's phases, batch and balancing, as a card records them, in words."""
    phases = "; ".join(
        f"{p['epochs']} epoch{'s' * (p['epochs'] != 1)} at {p['learning_rate']:g}"
        + (f", top {p['unfreeze']:.0%} of the base unfrozen" if p["unfreeze"] else ", base frozen")
        for p in member["phases"]
    )
    augmented = member.get("site_augmentation") is not None
    return (
        f"{phases}; batch {member['batch_size']}; site augmentation "
        f"{'on' if augmented else 'off'}, source balancing {member['source_power']}, "
        f"modality balancing {member['modality_power']}"
    )


def details_table(card: dict[str, Any], model_path: Path) -> pd.Series:
    """Architecture, input, training set-up, conditions and versions of a saved model."""
    training, members = card["training"], trainings(card)
    conditions = training["conditions"]
    reference = load_reference(model_path)
    rule = load_rule(model_path)
    recipes = list(dict.fromkeys(recipe_text(member) for member in members))
    details = {
        "model": training["title"],
        "file": f"{model_path.name}, {model_path.stat().st_size / 1e6:.1f} MB",
        "parameters": f"{training['parameters']:,}",
        "classes": ", ".join(card["classes"]),
        "input": f"{card['input_shape']} {card['input_dtype']}",
        "preprocessing": card["preprocessing"],
        "training images": f"{training['train_images']:,} (train split)",
        "training": " | ".join(recipes) + f"; {seeds_text(card, members, len(recipes))}",
        "epochs run (kept)": " + ".join(f"{m['epochs_run']} ({m['best_epoch']})" for m in members),
        "training time": f"{training['seconds']:.0f} s on {conditions['cpu_cores']} CPU "
        f"cores, {conditions['gpus']} GPU",
        "dataset manifest sha256": card["manifest_sha256"],
        "unfamiliar-input alarm": alarm(reference, rule.max_distance_ratio),
        "novelty alarm (brain and lung answers)": "none"
        if rule.max_novelty_ratio == float("inf")
        else f"generic-feature novelty above {rule.max_novelty_ratio:.2f} × the level 99% "
        "of the answered class's validation images stay under",
        "unsure below": f"{rule.min_probability:.0%} top probability after temperature "
        f"{rule.temperature:.2f} ({rule.fitted_on})",
        "trained": card["date"],
        "versions": ", ".join(f"{k} {v}" for k, v in sorted(card["versions"].items())),
    }
    if len(members) > 1:
        details["members"] = (
            "; ".join(
                f"{m['title']}, seed {m.get('seed', card['seed'])}, {m['parameters']:,} "
                "parameters, logits divided by its "
                f"temperature {m['temperature']:.2f} on val"
                for m in members
            )
            + "; the model answers with the mean of these calibrated logits"
        )
    return pd.Series(details, name="release model")


def seeds_text(card: dict[str, Any], members: list[dict[str, Any]], recipes: int) -> str:
    """'seed 0', 'seed 0 (each member)' or 'seeds 0 and 1 (each recipe)'."""
    seeds = sorted({member.get("seed", card["seed"]) for member in members})
    if len(seeds) > 1:
        return f"seeds {', '.join(map(str, seeds[:-1]))} and {seeds[-1]} (each recipe)"
    return f"seed {seeds[0]}" + (" (each member)" if len(members) > 1 and recipes == 1 else "")


def alarm(reference, ceiling: float) -> str:
    """The feature-distance alarm in words: missing, unused, or its level."""
    if reference is None:
        return "none saved"
    if ceiling == float("inf"):
        return "reference saved, not used: the folds chose no distance ceiling"
    return (
        f"feature distance above {ceiling:.2f} × {reference.threshold:.1f}, the level "
        f"{reference.quantile:.0%} of validation images stay under"
    )


def unsure_table(seed_results: dict[str, Any], seed: int = 0) -> pd.DataFrame:
    """Per split and per external source: images, unsure rate, asserted error, accuracy
    when sure, from `models/medcnn.seeds.json`."""
    scores = seed_results["seeds"][str(seed)]["scores"]
    rows = {("test", "all"): scores["test"]["abstention"]["all"]}
    rows |= {("external", name): row for name, row in scores["external"]["abstention"].items()}
    return pd.DataFrame(rows).T.rename_axis(["split", "source"])
