"""Train a recipe on the manifest's train split, score it on every split, save it with its card.

`train_model("mobilenet_v2")` is what `medcnn train` and notebook 02 call. In
smoke mode (`MEDCNN_SMOKE=1`) it uses a small class-stratified subset and one
epoch per phase, for unit tests only.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pandas as pd

from medcnn import config
from medcnn.config import runs_dir, smoke_mode, training_seed
from medcnn.data.dataset import split_arrays
from medcnn.evaluation.calibration import fit_temperature
from medcnn.evaluation.metrics import split_scores
from medcnn.modeling.artifacts import (
    RELEASE_NAME,
    load_model,
    make_card,
    manifest_digest,
    read_card,
    release_model_path,
    save_model,
)
from medcnn.modeling.ensemble import merge
from medcnn.modeling.features import fit_reference, load_reference, save_reference
from medcnn.modeling.forward import Forward
from medcnn.modeling.novelty import fit_novelty, generic_features, save_novelty
from medcnn.modeling.unsure import UnsureRule
from medcnn.training.abstention import fit_rule
from medcnn.training.fit import conditions, fit_recipe
from medcnn.training.holdout import read_results, results_match
from medcnn.training.recipes import RECIPES, RELEASE_TITLE, Recipe, release_networks

EVALUATION_SPLITS = ("val", "test", "external")
SMOKE_LIMITS = {"train": 60, "val": 30, "test": 30, "external": 30}
WATCHED_VAL_SHARE = 0.25
"""Under a training-set limit (the book's budget), training watches a class-stratified
subset of val this size relative to the training set, for early stopping and the best
epoch: on 2 cores a whole-val pass after every epoch took about 30 % of MobileNetV2's
training time. Every split is still scored whole."""


@dataclass
class TrainRun:
    """A trained model with its learning curves, scores, card and file."""

    name: str
    title: str
    model: keras.Model
    history: pd.DataFrame
    card: dict[str, Any]
    path: Path


def load_splits(
    smoke: bool, processed: Path | None, seed: int, train_limit: int | None = None
) -> tuple[dict[str, tuple[Any, Any]], pd.DataFrame]:
    """(images, labels) of train and the evaluation splits, and the training images' rows.

    Smoke mode keeps a few images of each split; `train_limit` a class-stratified subset
    of `train` (val, test and external stay whole).
    """
    splits, train_rows = {}, None
    for split in ("train", *EVALUATION_SPLITS):
        limit = SMOKE_LIMITS[split] if smoke else (train_limit if split == "train" else None)
        images, labels, rows = split_arrays(split, processed, limit=limit, seed=seed)
        splits[split] = (images, labels)
        if split == "train":
            train_rows = rows
    return splits, train_rows


def watched_val(
    splits: dict[str, tuple[Any, Any]],
    smoke: bool,
    processed: Path | None,
    seed: int,
    train_limit: int | None,
) -> tuple[Any, Any]:
    """The val images training watches: all of them, or under `train_limit` a seeded,
    class-stratified subset of `WATCHED_VAL_SHARE` times that many."""
    if smoke or train_limit is None:
        return splits["val"]
    images, labels, _ = split_arrays(
        "val", processed, limit=round(train_limit * WATCHED_VAL_SHARE), seed=seed
    )
    return images, labels


TRAINING_CODE = (
    "modeling/architectures.py",
    "training/recipes.py",
    "training/fit.py",
    "training/augment.py",
)
"""The modules whose code decides what a recipe trains: their hash goes into every card."""


def code_fingerprint() -> str:
    """sha256 of the model-building and fitting code, so a saved model is stale when it changes."""
    package = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for name in TRAINING_CODE:
        digest.update(name.encode() + b"\0" + (package / name).read_bytes())
    return digest.hexdigest()


def training_summary(recipe: Recipe, fit, train_images: int) -> dict[str, Any]:
    return {
        "recipe": recipe.name,
        "title": recipe.title,
        **recipe.settings(),
        "epochs_run": len(fit.history),
        "best_epoch": fit.best_epoch,
        "train_images": train_images,
        "parameters": int(fit.model.count_params()),
        "seconds": round(fit.seconds, 1),
        "train_images_per_second": round(fit.images_per_second, 1),
        "conditions": conditions(),
        "code_sha256": code_fingerprint(),
    }


def score_splits(
    forward: Forward, splits: dict[str, tuple[np.ndarray, np.ndarray]]
) -> tuple[dict[str, dict[str, float]], float]:
    """Scores per split, and inference speed in images per second over all of them."""
    scores, seconds, count = {}, 0.0, 0
    for name, (images, labels) in splits.items():
        start = time.perf_counter()
        probabilities = forward.batches(images)[1]
        seconds += time.perf_counter() - start
        count += len(labels)
        scores[name] = split_scores(labels, probabilities)
    return scores, count / seconds if seconds else float("nan")


def train_model(
    name: str,
    seed: int = 0,
    out: Path | None = None,
    smoke: bool | None = None,
    processed: Path | None = None,
    verbose: int = 2,
    checkpoints: Path | None = None,
    reference: bool = False,
    train_limit: int | None = None,
) -> TrainRun:
    """Train recipe `name`, select on val, score every split and save `<out>` + its card.

    The best-epoch checkpoint goes to `checkpoints` (default `runs/checkpoints/`);
    `reference` also saves the out-of-distribution reference prediction uses;
    `train_limit` trains on a class-stratified subset of that many training images.
    """
    if name not in RECIPES:
        raise ValueError(f"unknown model {name!r}; choose from {sorted(RECIPES)}")
    smoke = smoke_mode() if smoke is None else smoke
    recipe = RECIPES[name].smoke() if smoke else RECIPES[name]
    splits, train_rows = load_splits(smoke, processed, seed, train_limit)
    out = Path(out) if out is not None else runs_dir() / f"{name}.keras"
    checkpoints = checkpoints or runs_dir() / "checkpoints"
    watched = watched_val(splits, smoke, processed, seed, train_limit)
    fit = fit_recipe(recipe, splits["train"], watched, checkpoints, seed, verbose, train_rows)
    metrics, speed = score_splits(Forward(fit.model), {s: splits[s] for s in EVALUATION_SPLITS})
    training = training_summary(recipe, fit, len(splits["train"][1]))
    training["val_images_watched"] = len(watched[1])
    training["inference_images_per_second"] = round(speed, 1)
    training["smoke"] = smoke
    training["train_limit"] = train_limit
    card = make_card(name, seed, metrics=metrics, training=training, processed=processed)
    card["history"] = fit.history.round(5).to_dict(orient="list")
    save_model(fit.model, out, card)
    if reference:
        save_feature_reference(fit.model, splits, out)
    return TrainRun(name, recipe.title, fit.model, fit.history, card, out)


def save_feature_reference(
    model: keras.Model, splits: dict[str, tuple[Any, Any]], out: Path
) -> Path:
    """Fit the out-of-distribution reference on train features, threshold on val; save it."""
    forward = Forward(model)
    train_images, train_labels = splits["train"]
    reference = fit_reference(
        forward.batches(train_images)[0], train_labels, forward.batches(splits["val"][0])[0]
    )
    return save_reference(reference, out)


def trained_model(name: str, seed: int | None = None) -> keras.Model:
    """The model notebook 02 saved in `runs/`, or a fresh one trained now.

    A saved model is reused only when its card matches: same dataset manifest, seed,
    smoke mode and recipe. So each notebook also runs on its own, in any order.
    """
    seed = training_seed() if seed is None else seed
    path = runs_dir() / f"{name}.keras"
    if path.is_file() and card_matches(read_card(path), name, seed, config.train_limit()):
        return load_model(path)
    return train_model(name, seed, verbose=0, train_limit=config.train_limit()).model


def card_matches(
    card: dict[str, Any],
    name: str,
    seed: int,
    train_limit: int | None = None,
    smoke: bool | None = None,
    processed: Path | None = None,
) -> bool:
    """Was the model of `card` trained by recipe `name` as it is now, on this dataset and
    with this training-set limit (in smoke mode, default `MEDCNN_SMOKE`)?"""
    smoke = smoke_mode() if smoke is None else smoke
    recipe = RECIPES[name].smoke() if smoke else RECIPES[name]
    training = card.get("training", {})
    return (
        card.get("manifest_sha256") == manifest_digest(processed)
        and card.get("seed") == seed
        and training.get("smoke") == smoke
        and training.get("train_limit") == train_limit
        and training.get("code_sha256") == code_fingerprint()
        and all(training.get(key) == value for key, value in recipe.settings().items())
    )


def member_path(name: str, seed: int) -> Path:
    """Where `train_release` keeps a member of the release ensemble: `runs/release/s<seed>/`."""
    return runs_dir() / "release" / f"s{seed}" / f"{name}.keras"


def release_matches(
    card: dict[str, Any], seed: int, smoke: bool | None = None, processed: Path | None = None
) -> bool:
    """Was the ensemble of `card` merged from the release's networks under `seed` as they
    are now, on this dataset?"""
    members = card.get("training", {}).get("members", [])
    networks = [(member.get("recipe"), member.get("seed")) for member in members]
    return (
        card.get("seed") == seed
        and networks == list(release_networks(seed))
        and all(
            card_matches(
                {**card, "seed": member_seed, "training": member},
                name,
                member_seed,
                None,
                smoke,
                processed,
            )
            for member, (name, member_seed) in zip(members, networks, strict=True)
        )
    )


def train_release(
    seed: int = 0,
    out: Path | None = None,
    smoke: bool | None = None,
    processed: Path | None = None,
    verbose: int = 2,
) -> TrainRun:
    """Train the release's networks under `seed` (`recipes.release_networks`, reusing those
    in `runs/release/` whose cards match), fit each one's temperature on val, merge them
    into one model, and write it to `out` (default `models/medcnn.keras`) with its card, its
    out-of-distribution reference, its novelty reference and, from the held-out folds, its
    "unsure" rule."""
    smoke = smoke_mode() if smoke is None else smoke
    out = Path(out) if out is not None else release_model_path()
    paths = []
    for name, member_seed in release_networks(seed):
        path = member_path(name, member_seed)
        saved = path.is_file() and read_card(path)
        if not (saved and card_matches(saved, name, member_seed, None, smoke, processed)):
            train_model(name, member_seed, path, smoke=smoke, processed=processed, verbose=verbose)
        paths.append(path)
    splits, _ = load_splits(smoke, processed, seed)
    val_images, val_labels = splits["val"]
    members, summaries = [], []
    for path in paths:
        member, card = load_model(path), read_card(path)
        temperature = fit_temperature(Forward(member).batches(val_images)[1], val_labels)
        members.append(member)
        summaries.append(
            {
                **card["training"],
                "seed": card["seed"],
                "temperature": temperature,
                "history": card["history"],
            }
        )
    model = merge(members, [summary["temperature"] for summary in summaries], name="medcnn")
    metrics, speed = score_splits(Forward(model), {s: splits[s] for s in EVALUATION_SPLITS})
    training = {
        "title": RELEASE_TITLE,
        "members": summaries,
        "train_images": summaries[0]["train_images"],
        "parameters": int(model.count_params()),
        "seconds": round(sum(summary["seconds"] for summary in summaries), 1),
        "train_images_per_second": round(
            summaries[0]["train_images"]
            * sum(summary["epochs_run"] for summary in summaries)
            / sum(summary["seconds"] for summary in summaries),
            1,
        ),
        "inference_images_per_second": round(speed, 1),
        "conditions": summaries[0]["conditions"],
        "code_sha256": code_fingerprint(),
        "smoke": smoke,
        "train_limit": None,
    }
    card = make_card(RELEASE_NAME, seed, metrics=metrics, training=training, processed=processed)
    save_model(model, out, card)
    save_feature_reference(model, splits, out)
    save_unsure_rule(out, processed)
    return TrainRun(RELEASE_NAME, RELEASE_TITLE, model, pd.DataFrame(), card, out)


def save_unsure_rule(model_path: Path, processed: Path | None = None) -> UnsureRule | None:
    """Fit the model's novelty reference and "unsure" rule, on val and on the held-out
    folds of `make holdout`, and save both beside the model.

    Without fold results for the current dataset and the release's recipes the model keeps
    the default rule, and this says why.
    """
    try:
        results = read_results()
    except FileNotFoundError as error:
        print(f"{error}: the model keeps the default unsure rule")
        return None
    if not results_match(results):
        print(
            "the held-out fold results are for another dataset or other recipes; run "
            "`make holdout`: the model keeps the default unsure rule"
        )
        return None
    pool = {split: split_arrays(split, processed) for split in ("train", "val")}
    generic = {split: generic_features()(images) for split, (images, _, _) in pool.items()}
    labels = {split: split_labels for split, (_, split_labels, _) in pool.items()}
    novelty = fit_novelty(generic["train"], labels["train"], generic["val"], labels["val"])
    save_novelty(novelty, model_path)
    features, probabilities = Forward(load_model(model_path)).batches(pool["val"][0])
    reference = load_reference(model_path)
    val = {
        "labels": labels["val"],
        "probabilities": probabilities,
        "distance_ratio": reference.distances(features) / reference.threshold,
        "novelty_ratio": novelty.ratios(generic["val"], probabilities.argmax(axis=1)),
    }
    return fit_rule(model_path, val, results)
