"""Recipes scored on training sources held out of training, never on `external`.

`external` measures how a model does on sources it never saw; comparing recipes by it
would spend that measure. Here each fold holds out whole sources of the training pool
instead, of the kinds `external` holds: a candidate trains on the rest of `train`,
selects its epoch on the rest of `val`, and is scored on the held-out images (their
`train` and `val` rows; `test` and `external` stay unseen). The recipes chosen between
also run under further seeds, so that differences between them can be read against the
spread that the seed alone gives.

`medcnn train --holdout` (`make holdout`) runs them all and writes
`models/medcnn.holdout.json`; a run already there for the same dataset, seed and
recipe is kept rather than trained again. Beside the runs, each fold keeps its held-out
images' novelty for every class (`modeling.novelty`, against the fold's own train and
val images), which the "unsure" rule is fitted with (`training.abstention`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import recall_score

from medcnn.config import CLASSES, project_root, runs_dir
from medcnn.data.dataset import split_arrays
from medcnn.evaluation.calibration import fit_temperature
from medcnn.evaluation.metrics import split_scores
from medcnn.io import results_json, write_atomic
from medcnn.modeling.artifacts import manifest_digest
from medcnn.modeling.features import fit_reference
from medcnn.modeling.forward import Forward
from medcnn.modeling.novelty import fit_novelty, generic_features
from medcnn.training.fit import conditions, fit_recipe
from medcnn.training.recipes import RECIPES, SEEDS_PER_MEMBER, Phase, Recipe, release_networks


@dataclass(frozen=True)
class Fold:
    """Sources held out of training: (source, modality), where None takes every modality."""

    name: str
    held_out: tuple[tuple[str, str | None], ...]


FOLDS = (
    Fold(
        "A",
        (
            ("chest-ct-sarscov2-soares", None),
            ("head-ct-ctich-hssayeni", None),
            ("brain-tumor-mri-sartaj", None),
            ("natural-images-8class", None),
            ("cardiac-mri-acdc", None),
        ),
    ),
    Fold(
        "B",
        (
            ("chest-ct-kaggle-chest-ctscan-images", None),
            ("head-ct-cq500-dicom", None),
            ("chest-xray-tbx11k-tb", None),
            ("face-mask-faces", None),
            ("abdomen-ct-btcv-synapse", None),
        ),
    ),
    Fold(
        "C",
        (
            ("chest-ct-covid19-ct-seg-ma", None),
            ("chest-ct-lung-pet-ct-dx", None),
            ("head-ct-hemorrhage-kitamura", None),
            ("brain-tumor-mri-figshare-cheng", None),
            ("abdomen-mri-chaos-t2", None),
            ("dermoscopy-ph2", None),
        ),
    ),
    Fold(
        "D",
        (
            ("covid-chestxray-ieee8023", None),
            ("covid-chestxray-figure1", None),
            ("brain-tumor-mri-br35h", None),
            ("hand-xray-rsna-boneage", None),
        ),
    ),
)
"""Every kind of image the product must handle has a fold where a whole source of it is
held out: chest CT (every fold), head CT (A, B, C), brain MRI (A, C, D), chest X-ray (B, D),
photographs (A, B), cross-sectional imaging of other body parts (cardiac MRI in A,
abdominal CT in B, abdominal MRI in C) and a kind no other source shows (dermoscopy, C).
Fold D holds out images that reached their collection as exports rather than from a
scanner: chest X-ray and CT cropped from paper and website figures (with arrows, letters
and recompression), brain MRI gathered from the web, and hand X-rays stored at 100 px."""

BLOCK_13 = "96 px, MobileNetV2 to block 13"
WHOLE = "96 px, the whole MobileNetV2"
WHOLE_128 = "128 px, the whole MobileNetV2"
DEEPER = "96 px, block 13, every layer fine-tuned"
LONGER = "96 px, block 13, twice the fine-tuning epochs"
SITE_AUGMENTED = "96 px, block 13, with site augmentation"
MODALITY_BALANCED = "96 px, block 13, with modality balancing"
WHOLE_BALANCED = "96 px, the whole MobileNetV2, with modality balancing"
AT_64_PX = replace(
    RECIPES["mobilenet_v2"], size=64, title="MobileNetV2 to block 13 (64 px, ImageNet)"
)

CANDIDATES = {
    BLOCK_13: RECIPES["mobilenet_v2"],
    "64 px (the release before 96 px)": AT_64_PX,
    "64 px, with site augmentation and modality balancing": replace(
        AT_64_PX, site_augmentation=True, modality_power=0.5
    ),
    "64 px, with every source weighed equally": replace(AT_64_PX, source_power=1.0),
    WHOLE: RECIPES["mobilenet_v2_whole"],
    WHOLE_128: replace(RECIPES["mobilenet_v2_whole"], size=128),
    DEEPER: replace(RECIPES["mobilenet_v2"], phases=(Phase(3, 1e-3), Phase(8, 1e-4, unfreeze=1.0))),
    LONGER: replace(
        RECIPES["mobilenet_v2"], phases=(Phase(3, 1e-3), Phase(16, 1e-4, unfreeze=0.3))
    ),
    SITE_AUGMENTED: replace(RECIPES["mobilenet_v2"], site_augmentation=True),
    MODALITY_BALANCED: replace(RECIPES["mobilenet_v2"], modality_power=0.5),
    WHOLE_BALANCED: replace(RECIPES["mobilenet_v2_whole"], modality_power=0.5),
}
"""The recipes scored on the folds: MobileNetV2 to block 13 at 96 px, the release's first
member and each variant's baseline; the same at 64 px, the release before the folds chose
96 px; two variants of the 64 px recipe: with site augmentation (`training.augment`) and
modality balancing, which mimic what differs between sites and were the release's before
that, and with every source of a class given an equal say; and the whole MobileNetV2
rather than its first 13 blocks, the release's second member; and the same at 128 px,
the mirror's own resolution. Last, two ways for the block-13 recipe to adapt its
ImageNet features further: every layer of the base fine-tuned rather than its top 30 %,
and a fine-tuning phase of up to 16 epochs rather than 8. And the block-13 recipe with
site augmentation alone, and with modality balancing alone, which at 64 px were only
tried together. Each of these must lead the block-13 recipe under seed 0 on held-out
macro-F1 and on "unsure" at the error bound before seeds 1 and 2 are spent on it. The
whole MobileNetV2 with modality balancing, the release's second member balanced as its
first was, is judged inside the release (`ENSEMBLES`). A variant is added here as a name
and a `Recipe`; runs already in the results file are kept while nothing they depend on
changed."""

SEEDS: dict[str, tuple[int, ...]] = {
    BLOCK_13: (0, 1, 2, 3, 4, 5),
    "64 px (the release before 96 px)": (0, 1, 2),
    "64 px, with site augmentation and modality balancing": (0, 1, 2),
    WHOLE: (0, 1, 2, 3, 4, 5),
    MODALITY_BALANCED: (0, 1),
    WHOLE_BALANCED: (0, 1),
}
"""Seeds per candidate; those not listed run under seed 0 only. The recipes that were
chosen between run under three, so that the difference between them can be read against
the spread the seed alone gives on the same folds. The release's members also run under
seeds 3, 4 and 5, for the three replicates of the release trained under two seeds
(`TWO_SEEDS`). The modality-balanced recipes run under the seeds that the release with
both of them (`BALANCED`) has earned so far."""

RULE_SEEDS = (0, 1, 2)
"""The seeds the selection rules compare a candidate and its incumbent over; seeds beyond
them serve replicates (`REPLICATES`)."""

RELEASE = "block 13 + the whole MobileNetV2"

WHOLE_AT_128_PX = "block 13 + the whole MobileNetV2 at 128 px"
WITH_64_PX = "the release + block 13 at 64 px"
WITH_64_PX_AUGMENTED = "the release + block 13 at 64 px, site-augmented"
LONGER_MEMBER = "the release with its block-13 member fine-tuned longer"
BALANCED_MEMBER = "the release with its block-13 member modality-balanced"
BALANCED = "the release with both members modality-balanced"

ENSEMBLES: dict[str, tuple[str, ...]] = {
    RELEASE: (BLOCK_13, WHOLE),
    WHOLE_AT_128_PX: (BLOCK_13, WHOLE_128),
    WITH_64_PX: (BLOCK_13, WHOLE, "64 px (the release before 96 px)"),
    WITH_64_PX_AUGMENTED: (
        BLOCK_13,
        WHOLE,
        "64 px, with site augmentation and modality balancing",
    ),
    LONGER_MEMBER: (LONGER, WHOLE),
    BALANCED_MEMBER: (MODALITY_BALANCED, WHOLE),
    BALANCED: (MODALITY_BALANCED, WHOLE_BALANCED),
}
"""Candidates scored together: an ensemble's answer on a fold is the mean of its members'
calibrated logits under the same seed (a geometric mean of their probabilities; compare
Lakshminarayanan et al., 2017), so it needs no training of its own. The two recipes here
err on different held-out kinds (cardiac MRI and photographs against abdominal CT); their
ensemble won on the folds, and with each recipe under two seeds is the release
(`training.recipes.release_networks`). The
next candidate keeps the block-13 member at 96 px and gives the whole network the
mirror's 128 px: it has to lead the release on the folds under seed 0, on held-out
macro-F1 and on "unsure" at the error bound, before its seeds 1 and 2 are worth their
training time, and to lead on both over seeds 0, 1 and 2 to replace it. The next two add
a third member that costs a fraction of the others' time (the block-13 recipe at 64 px,
without and with site augmentation); their runs exist under seeds 0, 1 and 2, so they
are judged by the same rule over all three at once. The next puts the block-13 recipe
with up to 16 fine-tuning epochs, which led it on held-out macro-F1 but not on "unsure",
in the release in its place; it was scored after that recipe had stopped, to see whether
its lead carries into the ensemble, by the rule of the 128 px candidate under seed 0.
The block-13 recipe with modality balancing, which passed its first look, was put in the
release's block-13 member's place the same way. Last, both members modality-balanced:
by a rule set before the whole network's balanced run, it has to lead the release under
seed 0 on both figures before seeds 1 and 2 of both recipes are worth their training
time, and over seeds 0, 1 and 2 before its two-seed replicates (seeds 3 to 5) are."""


TWO_SEEDS = "the release, each member under two seeds"

REPLICATES: dict[str, tuple[tuple[str, ...], int]] = {
    TWO_SEEDS: (ENSEMBLES[RELEASE], SEEDS_PER_MEMBER)
}
"""Ensembles of recipes each under several seeds, as (members, seeds per replicate):
replicate k merges every member trained under seeds k·n to k·n + n − 1, so its runs are
the same as those of the single-seed ensemble under those seeds. The release with each
member under two seeds (four networks; about twice the forward pass, within the latency
budget) is the next step that Lakshminarayanan et al. (2017) predict helps "unsure". Its
replicate from seeds 0 and 1, scored from runs already stored, led the release under
seed 0 on both counts. The rule, set before seed 3 ran: the mean of its replicates from
seeds 0-1 and 2-3 must lead the release's mean under seeds 0-3 on held-out macro-F1 and
on "unsure" at the error bound before seeds 4 and 5 are worth their training time; it
replaces the release only by leading with three replicates against seeds 0-5, which it
did (notebook 02 renders the verdict from the results file): it is the release now, and
its replicate 0 (`RELEASE_SEEDS`) judges the folds as the release model does."""


RELEASE_SEEDS = tuple(sorted({str(seed) for _, seed in release_networks(0)}))
"""The seeds of the fold runs that, merged with the release's members, judge each fold as
the release model judges an upload: its first replicate (`recipes.release_networks`)."""


def candidate_seeds(name: str) -> tuple[int, ...]:
    return SEEDS.get(name, (0,))


def results_path() -> Path:
    return project_root() / "models" / "medcnn.holdout.json"


def held_out_mask(rows: pd.DataFrame, fold: Fold) -> np.ndarray:
    """Rows of the fold's held-out sources, with every row sharing a group with one."""
    hit = np.zeros(len(rows), dtype=bool)
    for source, modality in fold.held_out:
        chosen = rows["source"] == source
        if modality is not None:
            chosen &= rows["modality"] == modality
        hit |= chosen.to_numpy()
    return rows["group"].isin(set(rows.loc[hit, "group"])).to_numpy()


def held_out_rows(manifest: pd.DataFrame) -> pd.DataFrame:
    """The manifest rows of every fold's held-out images with their fold, in the order the
    fold runs keep them (`fold_data`: train rows, then val), one fold after another."""
    parts = []
    for fold in FOLDS:
        for split in ("train", "val"):
            rows = manifest[manifest["split"] == split].reset_index(drop=True)
            parts.append(rows[held_out_mask(rows, fold)].assign(fold=fold.name))
    return pd.concat(parts, ignore_index=True)


def fold_data(fold: Fold, pool: dict[str, tuple[Any, Any, pd.DataFrame]]) -> dict[str, Any]:
    """The fold's train and val (held-out sources removed) and its held-out images."""
    kept, held = {}, []
    for split in ("train", "val"):
        images, labels, rows = pool[split]
        mask = held_out_mask(rows, fold)
        kept[split] = (images[~mask], labels[~mask], rows[~mask].reset_index(drop=True))
        held.append((images[mask], labels[mask], rows[mask]))
    held_out = (
        np.concatenate([h[0] for h in held]),
        np.concatenate([h[1] for h in held]),
        pd.concat([h[2] for h in held], ignore_index=True),
    )
    return {"train": kept["train"], "val": kept["val"], "held_out": held_out}


def held_out_scores(labels: np.ndarray, probabilities: np.ndarray, rows: pd.DataFrame) -> dict:
    """Macro-F1 and accuracy, recall per class, and accuracy per held-out source."""
    predicted = probabilities.argmax(axis=1)
    recall = recall_score(
        labels, predicted, labels=list(range(len(CLASSES))), average=None, zero_division=0
    )
    right = pd.Series(predicted == labels)
    strata = rows["source"] + " (" + rows["modality"] + ")"
    return {
        **split_scores(labels, probabilities),
        "recall": dict(zip(CLASSES, map(float, recall), strict=True)),
        "source_accuracy": right.groupby(strata.to_numpy()).mean().round(4).to_dict(),
    }


def run_candidate(recipe: Recipe, data: dict[str, Any], workdir: Path, seed: int) -> dict:
    """Train `recipe` on one fold; its held-out and val scores, training time and machine."""
    train_images, train_labels, train_rows = data["train"]
    val_images, val_labels, _ = data["val"]
    fit = fit_recipe(
        recipe,
        (train_images, train_labels),
        (val_images, val_labels),
        workdir,
        seed,
        verbose=0,
        rows=train_rows,
    )
    images, labels, rows = data["held_out"]
    forward = Forward(fit.model)
    reference = fit_reference(
        forward.batches(train_images)[0], train_labels, forward.batches(val_images)[0]
    )
    features, probabilities = forward.batches(images)
    val_probabilities = forward.batches(val_images)[1]
    return {
        "held_out": held_out_scores(labels, probabilities, rows),
        "val": split_scores(val_labels, val_probabilities),
        "temperature": fit_temperature(val_probabilities, val_labels),
        "images": {
            "source": rows["source"].tolist(),
            "label": labels.tolist(),
            "probabilities": np.round(probabilities.astype(np.float64), 5).tolist(),
            "distance_ratio": np.round(
                reference.distances(features) / reference.threshold, 4
            ).tolist(),
        },
        "epochs_run": len(fit.history),
        "seconds": round(fit.seconds, 1),
        "conditions": conditions(),
    }


def mean_macro_f1(folds: dict[str, Any]) -> float:
    """Held-out macro-F1 of one run, averaged over the folds."""
    return float(np.mean([fold["held_out"]["macro_f1"] for fold in folds.values()]))


def finished_runs(results: dict[str, Any], name: str) -> dict[str, dict[str, Any]]:
    """The runs of candidate `name`, by seed, that reached every fold: a run still
    training, or stopped part-way, is left out."""
    folds = set(results["folds"])
    runs = results["candidates"][name]["runs"]
    return {seed: by_fold for seed, by_fold in runs.items() if set(by_fold) == folds}


def results_match(results: dict[str, Any], members: tuple[str, ...] = ENSEMBLES[RELEASE]) -> bool:
    """Were these fold results computed on the current dataset, with the current recipe of
    each of `members` run on every fold under each of the release's seeds?"""
    entries = [results.get("candidates", {}).get(member, {}) for member in members]
    return results.get("manifest_sha256") == manifest_digest() and all(
        entry.get("recipe") == CANDIDATES[member].settings()
        and all(len(entry.get("runs", {}).get(seed, {})) == len(FOLDS) for seed in RELEASE_SEEDS)
        for member, entry in zip(members, entries, strict=True)
    )


def read_results(path: Path | None = None) -> dict[str, Any]:
    path = path or results_path()
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found; `make holdout` writes it")
    return json.loads(path.read_text())


def run_holdout(path: Path | None = None, workdir: Path | None = None, log=print) -> dict:
    """Run every candidate on every fold under its seeds; write the results as they come.

    A run in the earlier file is kept when the dataset, the fold's held-out sources, the
    recipe and the seed are all the same.
    """
    path = path or results_path()
    workdir = workdir or runs_dir() / "holdout"
    pool = {split: split_arrays(split) for split in ("train", "val")}
    data = {fold.name: fold_data(fold, pool) for fold in FOLDS}
    results = {
        "manifest_sha256": manifest_digest(),
        "folds": {fold.name: describe_fold(fold, data[fold.name]) for fold in FOLDS},
        "candidates": {},
    }
    generic = {split: generic_features()(pool[split][0]) for split in ("train", "val")}
    for fold in FOLDS:
        results["folds"][fold.name]["novelty"] = held_out_novelty(fold, pool, generic)
    previous = read_results(path) if path.is_file() else {}
    missing = []
    for name, recipe in CANDIDATES.items():
        entry = {"recipe": recipe.settings(), "runs": {}}
        results["candidates"][name] = entry
        for seed in candidate_seeds(name):
            runs = entry["runs"].setdefault(str(seed), {})
            for fold in FOLDS:
                kept = earlier_run(previous, results, name, seed, fold.name)
                if kept:
                    runs[fold.name] = kept
                else:
                    missing.append((name, seed, fold))
    for name, seed, fold in missing:
        log(f"fold {fold.name}: training {name}, seed {seed}")
        run = run_candidate(CANDIDATES[name], data[fold.name], workdir, seed)
        results["candidates"][name]["runs"][str(seed)][fold.name] = run
        log(f"  held-out macro-F1 {run['held_out']['macro_f1']:.3f}")
        write(results, path)
    write(results, path)
    return results


def earlier_run(
    previous: dict[str, Any], current: dict[str, Any], name: str, seed: int, fold: str
) -> dict[str, Any] | None:
    """The earlier file's run of `name` on `fold` with `seed`, if nothing it depends on changed."""
    same = (
        previous.get("manifest_sha256") == current["manifest_sha256"]
        and previous.get("folds", {}).get(fold, {}).get("held_out")
        == current["folds"][fold]["held_out"]
        and previous.get("candidates", {}).get(name, {}).get("recipe")
        == current["candidates"][name]["recipe"]
    )
    if not same:
        return None
    return previous["candidates"][name]["runs"].get(str(seed), {}).get(fold)


def held_out_novelty(
    fold: Fold, pool: dict[str, tuple[Any, Any, pd.DataFrame]], generic: dict[str, np.ndarray]
) -> list[list[float]]:
    """Each held-out image's novelty (in `fold_data`'s order) for every class, against a
    reference fitted on the fold's own train and val images; `generic` holds the generic
    features of the pool's `train` and `val` images."""
    masks = {split: held_out_mask(pool[split][2], fold) for split in ("train", "val")}
    reference = fit_novelty(
        generic["train"][~masks["train"]],
        pool["train"][1][~masks["train"]],
        generic["val"][~masks["val"]],
        pool["val"][1][~masks["val"]],
    )
    held = np.concatenate([generic[split][masks[split]] for split in ("train", "val")])
    ratios = [reference.ratios(held, np.full(len(held), label)) for label in range(len(CLASSES))]
    return np.round(np.stack(ratios, axis=1), 4).tolist()


def describe_fold(fold: Fold, data: dict[str, Any]) -> dict[str, Any]:
    rows = data["held_out"][2]
    return {
        "held_out": [list(pair) for pair in fold.held_out],
        "held_out_images": rows["label"].value_counts().reindex(CLASSES, fill_value=0).to_dict(),
        "train_images": len(data["train"][1]),
        "val_images": len(data["val"][1]),
    }


def write(results: dict[str, Any], path: Path) -> None:
    write_atomic(path, (results_json(results) + "\n").encode())


def holdout_table(results: dict[str, Any]) -> pd.DataFrame:
    """One row per candidate and seed: held-out macro-F1 and lung recall per fold, their
    mean, the mean val macro-F1, and the training time with the machine it was taken on."""
    table = {}
    for name in results["candidates"]:
        for seed, folds in finished_runs(results, name).items():
            row = {}
            for fold, scores in folds.items():
                row[f"fold {fold} macro-F1"] = scores["held_out"]["macro_f1"]
                row[f"fold {fold} lung recall"] = scores["held_out"]["recall"]["lung"]
            row["mean held-out macro-F1"] = mean_macro_f1(folds)
            row["mean val macro-F1"] = np.mean([s["val"]["macro_f1"] for s in folds.values()])
            row["training s"] = sum(s["seconds"] for s in folds.values())
            row["machine"] = ", ".join(sorted({machine(s["conditions"]) for s in folds.values()}))
            table[(name, int(seed))] = row
    return pd.DataFrame(table).T.rename_axis(["candidate", "seed"])


def machine(conditions: dict[str, Any]) -> str:
    return f"{conditions['cpu_cores']} CPU cores, {conditions['gpus']} GPUs"


def seed_spread(results: dict[str, Any], name: str) -> pd.Series:
    """Mean held-out macro-F1 of one candidate under each of its seeds."""
    runs = finished_runs(results, name)
    return pd.Series({int(seed): mean_macro_f1(folds) for seed, folds in runs.items()})
