"""The release under several seeds: how far the seed alone moves the unseen-source figures.

Seed 0 is the release model itself; for the others `train_release` trains its networks
under that seed (each member under its own seeds, `recipes.release_networks`, so no two
seeds share a network) and merges them into `runs/seeds/`. Each model gets its own
out-of-distribution reference and "unsure" rule (fitted as the release's is),
and is scored on `test`, on `external` and on the open-set check. `make seeds` writes
`models/medcnn.seeds.json`, which notebook 02 and the README read. Scoring `external` here
is a measurement, not a selection: nothing is chosen by it.

Each seed's entry records the training-code fingerprint of its networks. `make seeds
MEASURE=0` measures seed 0 alone (the release, no training) and keeps the other seeds'
entries from the file, so a retrained release can be measured at once while the other
seeds' networks are retrained later; their fingerprints then show what they were trained by.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from medcnn.config import CLASSES, project_root, runs_dir
from medcnn.data.dataset import split_arrays
from medcnn.evaluation.open_set import open_set, open_set_table
from medcnn.evaluation.report import evaluate_model
from medcnn.io import results_json, write_atomic
from medcnn.modeling.artifacts import load_model, manifest_digest, read_card, release_model_path
from medcnn.modeling.features import load_reference
from medcnn.modeling.forward import Forward
from medcnn.modeling.novelty import load_novelty
from medcnn.modeling.unsure import load_rule, rule_record, verdict
from medcnn.training.recipes import RELEASE_MEMBERS, SEEDS_PER_MEMBER
from medcnn.training.run import release_matches, save_unsure_rule, train_release

SEEDS = (0, 1, 2)
SPLITS = ("test", "external")
RESAMPLES = 200


class SeedsError(Exception):
    """Seeds asked for that cannot be measured, or kept, as asked."""


def results_path() -> Path:
    return project_root() / "models" / "medcnn.seeds.json"


def seed_model_path(seed: int) -> Path:
    """The release model for seed 0, `runs/seeds/s<seed>/medcnn.keras` for the others."""
    if seed == 0:
        return release_model_path()
    return runs_dir() / "seeds" / f"s{seed}" / release_model_path().name


def ready_model(seed: int, log=print) -> Path:
    """The seed's model, trained where missing, with its "unsure" rule fitted now."""
    path = seed_model_path(seed)
    if path.is_file() and release_matches(read_card(path), seed):
        save_unsure_rule(path)
    elif seed == 0:
        raise FileNotFoundError(f"{path} is missing or stale: run `make model` first")
    else:
        log(f"seed {seed}: training the release members and merging them")
        train_release(seed, path, verbose=0)
    return path


def score_seed(path: Path, data: dict[str, Any], open_images: tuple) -> dict[str, Any]:
    """Macro-F1, accuracy, per-source accuracy and "unsure" figures per split; the open set."""
    model, reference, rule = load_model(path), load_reference(path), load_rule(path)
    novelty = load_novelty(path)
    scores = {}
    for split, (images, labels, frame) in data.items():
        report = evaluate_model(
            model,
            images,
            labels,
            frame,
            resamples=RESAMPLES,
            reference=reference,
            rule=rule,
            novelty=novelty,
        )
        scores[split] = {
            "images": report["n"],
            "accuracy": report["accuracy"],
            "macro_f1": report["macro_f1"],
            "source_accuracy": {k: v["accuracy"] for k, v in report["per_source"].items()},
            "abstention": report["abstention"],
        }
    pixels, kinds = open_images
    features, probabilities = Forward(model).batches(pixels)
    judged = verdict(rule, pixels, features, probabilities, reference, novelty)
    table = open_set_table(judged, kinds).astype(int)
    scores["open_set"] = {
        kind: {k: int(v) for k, v in row.items()} for kind, row in table.iterrows()
    }
    return {"rule": rule_record(rule), "scores": scores}


def run_seeds(
    path: Path | None = None, measure: tuple[int, ...] = SEEDS, log=print
) -> dict[str, Any]:
    """Score the seeds in `measure` (training what is missing), keep the other seeds'
    entries from the earlier file (`kept_entries`), write `models/medcnn.seeds.json`."""
    path = path or results_path()
    unknown = sorted(set(measure) - set(SEEDS))
    if unknown:
        raise SeedsError(f"seeds {unknown} are not among the release's seeds {list(SEEDS)}")
    digest = manifest_digest()
    earlier = read_results(path) if path.is_file() else None
    kept = kept_entries(earlier, [seed for seed in SEEDS if seed not in measure], digest)
    data = {split: split_arrays(split) for split in SPLITS}
    test_images, test_labels, _ = data["test"]
    scans = test_images[np.isin(test_labels, [CLASSES.index("brain"), CLASSES.index("lung")])]
    open_images = open_set(scans[..., 0])
    measured = {}
    for seed in measure:
        model_path = ready_model(seed, log)
        log(f"seed {seed}: scoring {model_path}")
        measured[str(seed)] = score_seed(model_path, data, open_images) | {
            "code_sha256": read_card(model_path)["training"]["code_sha256"]
        }
    results = {
        "manifest_sha256": digest,
        "members": list(RELEASE_MEMBERS),
        "seeds_per_member": SEEDS_PER_MEMBER,
        "seeds": {str(seed): (measured | kept)[str(seed)] for seed in SEEDS},
    }
    write_atomic(path, (results_json(results) + "\n").encode())
    return results


def kept_entries(
    earlier: dict[str, Any] | None, seeds: list[int], manifest_sha256: str | None
) -> dict[str, Any]:
    """The earlier file's entries for `seeds`; each must be there, measured on this dataset."""
    same_data = earlier is not None and earlier.get("manifest_sha256") == manifest_sha256
    missing = [seed for seed in seeds if not same_data or str(seed) not in earlier["seeds"]]
    if missing:
        raise SeedsError(
            f"seeds {missing} have no measurement on this dataset to keep: measure them too"
        )
    return {str(seed): earlier["seeds"][str(seed)] for seed in seeds}


def same_code_as_release(results: dict[str, Any], card: dict[str, Any]) -> dict[int, bool]:
    """Per seed: were its networks trained by the release's training code (`code_sha256`)?"""
    code = card["training"]["code_sha256"]
    return {int(seed): entry.get("code_sha256") == code for seed, entry in results["seeds"].items()}


def read_results(path: Path | None = None) -> dict[str, Any]:
    path = path or results_path()
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found; `make seeds` writes it")
    return json.loads(path.read_text())
