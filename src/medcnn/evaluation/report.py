"""Evaluate a model on a split of the manifest or on any folder laid out like the sources.

The figures: accuracy and macro-F1 with bootstrap intervals, per-class precision / recall /
F1 / support / ROC-AUC / PR-AUC, the confusion matrix, calibration error before and after
temperature scaling (the temperature fitted on the validation split only), and accuracy per
source and per modality. Every value is plain JSON: floats, ints, lists, None.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from medcnn.config import CLASSES
from medcnn.data.dataset import split_arrays
from medcnn.data.listing import ListingError, read_files_csv
from medcnn.evaluation.abstention import abstention_by_group, abstention_figures
from medcnn.evaluation.calibration import (
    apply_temperature,
    expected_calibration_error,
    fit_temperature,
    reliability_bins,
)
from medcnn.evaluation.metrics import classification_metrics, group_accuracy
from medcnn.imaging.errors import UnusableImageError
from medcnn.imaging.readers import read_image
from medcnn.modeling.features import FeatureReference
from medcnn.modeling.forward import Forward, class_probabilities
from medcnn.modeling.novelty import NoveltyReference
from medcnn.modeling.unsure import UnsureRule, rule_record, verdict

GROUP_COLUMNS = {"per_source": "source", "per_modality": "modality"}


class FolderError(ValueError):
    """A folder that cannot be evaluated: no files.csv, unknown labels, no readable image."""


def source_folders(folder: Path) -> list[Path]:
    """The source folders under `folder` (each with a files.csv), or `folder` itself if it
    is one."""
    folder = Path(folder)
    if (folder / "files.csv").is_file():
        return [folder]
    found = sorted(p for p in folder.glob("*") if (p / "files.csv").is_file())
    if not found:
        raise FolderError(f"{folder}: no files.csv in it or in any sub-folder")
    return found


def read_folder_listing(folder: Path) -> pd.DataFrame:
    """Every row of every files.csv under `folder`, with `source`, `path` and `folder`."""
    frames = []
    for source in source_folders(folder):
        try:
            frame = read_files_csv(source)
        except ListingError as error:
            raise FolderError(str(error)) from None
        frame["folder"] = str(source)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def load_folder(folder: Path) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """Images (N, S, S, 1) uint8, labels (N,) int32 and rows of every readable listed image.

    Each file is read as `medcnn predict` reads it (any raster format, DICOM), into the
    canonical pixels of the dataset build. Files that are missing or unusable are left out
    and listed, with the one-line reason, in `frame.attrs["unreadable"]`.
    """
    listing = read_folder_listing(folder)
    pixels, kept, unreadable = [], [], []
    for row in listing.itertuples():
        try:
            pixels.append(read_image(Path(row.folder) / row.file).pixels)
        except UnusableImageError as error:
            unreadable.append({"path": row.path, "error": str(error)})
            continue
        kept.append(row.Index)
    if not pixels:
        raise FolderError(f"{folder}: none of the {len(listing)} listed images could be read")
    frame = listing.loc[kept].drop(columns=["file", "folder"]).reset_index(drop=True)
    frame.attrs["unreadable"] = unreadable
    labels = np.array([CLASSES.index(label) for label in frame["label"]], dtype=np.int32)
    return np.stack(pixels)[..., np.newaxis], labels, frame


def validation_temperature(model, processed: Path | None = None) -> float:
    """The temperature fitted on the manifest's validation split (and on nothing else)."""
    images, labels, _ = split_arrays("val", processed)
    return fit_temperature(class_probabilities(model, images), labels)


def evaluate_probabilities(
    probabilities: np.ndarray,
    labels: np.ndarray,
    frame: pd.DataFrame | None = None,
    temperature: float | None = None,
    resamples: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> dict:
    """Every figure of the evaluation from predicted probabilities; see the module docstring.

    `temperature` (fitted elsewhere, on val) adds the calibration after scaling; `frame`
    with `source` / `modality` columns adds the per-group accuracies.
    """
    labels = np.asarray(labels)
    if len(labels) == 0:
        raise ValueError("nothing to evaluate: no images")
    report = classification_metrics(labels, probabilities, resamples, seed, confidence)
    report["ece"] = expected_calibration_error(probabilities, labels)
    report["temperature"] = temperature
    report["ece_after_temperature"] = None
    report["reliability"] = {"before": reliability_bins(probabilities, labels), "after": None}
    if temperature is not None:
        scaled = apply_temperature(probabilities, temperature)
        report["ece_after_temperature"] = expected_calibration_error(scaled, labels)
        report["reliability"]["after"] = reliability_bins(scaled, labels)
    predictions = np.argmax(probabilities, axis=1)
    for key, column in GROUP_COLUMNS.items():
        if frame is not None and column in frame.columns:
            groups = frame[column].to_numpy()
            report[key] = group_accuracy(labels, predictions, groups, resamples, seed, confidence)
    return report


def evaluate_model(
    model,
    images: np.ndarray,
    labels: np.ndarray,
    frame: pd.DataFrame | None = None,
    temperature: float | None = None,
    resamples: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    reference: FeatureReference | None = None,
    rule: UnsureRule | None = None,
    novelty: NoveltyReference | None = None,
) -> dict:
    """Predict `images` with `model` and compute every figure (`evaluate_probabilities`).

    With a `rule` (and the model's `reference` and `novelty` reference), the report adds
    `abstention`: how often the rule says "unsure" and how often the model is wrong
    without saying so, overall ("all") and per source.
    """
    features, probabilities = Forward(model).batches(images)
    probabilities = probabilities.astype(np.float64)
    report = evaluate_probabilities(
        probabilities, labels, frame, temperature, resamples, seed, confidence
    )
    if rule is not None:
        judged = verdict(rule, images, features, probabilities, reference, novelty)
        right = judged["top_class"].to_numpy() == np.asarray(CLASSES)[np.asarray(labels)]
        groups = frame["source"].to_numpy() if frame is not None and "source" in frame else None
        report["abstention"] = (
            abstention_by_group(right, judged["unsure"].to_numpy(), groups)
            if groups is not None
            else {"all": abstention_figures(right, judged["unsure"].to_numpy())}
        )
        report["unsure_rule"] = rule_record(rule)
    return report


def summary(report: dict) -> str:
    """A readable page of the main figures of a report."""
    level = f"{report['confidence_level']:.0%}"
    lines = [
        f"{report['n']:,} images",
        f"accuracy {report['accuracy']:.3f} {interval(report['accuracy_ci'])}, "
        f"macro-F1 {report['macro_f1']:.3f} {interval(report['macro_f1_ci'])} ({level} bootstrap)",
        "",
        f"{'class':<8}{'precision':>10}{'recall':>8}{'F1':>7}{'support':>9}"
        f"{'ROC-AUC':>9}{'PR-AUC':>8}",
    ]
    for name, row in report["per_class"].items():
        lines.append(
            f"{name:<8}{row['precision']:>10.3f}{row['recall']:>8.3f}{row['f1']:>7.3f}"
            f"{row['support']:>9,}{number(row['roc_auc']):>9}{number(row['pr_auc']):>8}"
        )
    lines += ["", "confusion matrix (rows: true class, columns: predicted)"]
    lines.append(" " * 8 + "".join(f"{name:>8}" for name in CLASSES))
    for name, counts in zip(CLASSES, report["confusion_matrix"], strict=True):
        lines.append(f"{name:<8}" + "".join(f"{count:>8,}" for count in counts))
    lines += ["", f"expected calibration error {report['ece']:.3f}"]
    if report["temperature"] is not None:
        lines[-1] += (
            f", {report['ece_after_temperature']:.3f} after temperature scaling "
            f"(T = {report['temperature']:.2f})"
        )
    for key, title in (("per_source", "source"), ("per_modality", "modality")):
        if key in report:
            lines += ["", f"accuracy per {title}"]
            lines += [
                f"  {name:<40}{row['n']:>7,}  {row['accuracy']:.3f} {interval(row['accuracy_ci'])}"
                for name, row in report[key].items()
            ]
    if "abstention" in report:
        lines += ["", "unsure rule: " + report["unsure_rule"]["fitted_on"]]
        lines.append(f"  {'':<40}{'images':>7}{'unsure':>8}{'asserted error':>16}{'acc. sure':>11}")
        for name, row in report["abstention"].items():
            lines.append(
                f"  {name:<40}{row['images']:>7,}{row['unsure_rate']:>8.3f}"
                f"{row['asserted_error_rate']:>16.4f}{number(row['accuracy_when_sure']):>11}"
            )
    return "\n".join(lines)


def per_class_table(report: dict) -> pd.DataFrame:
    """Precision, recall, F1 with its interval, support and AUCs, one row per class."""
    rows = {
        name: {
            "precision": row["precision"],
            "recall": row["recall"],
            "F1": row["f1"],
            f"F1 {report['confidence_level']:.0%} interval": interval(row["f1_ci"]),
            "support": row["support"],
            "ROC-AUC": row["roc_auc"],
            "PR-AUC": row["pr_auc"],
        }
        for name, row in report["per_class"].items()
    }
    return pd.DataFrame.from_dict(rows, orient="index")


def models_table(reports: dict[str, dict[str, dict]]) -> pd.DataFrame:
    """Accuracy, macro-F1 (with intervals) and calibration of each model on each split.

    `reports[model][split]` is an evaluation report.
    """
    rows = []
    for model, by_split in reports.items():
        for split, report in by_split.items():
            rows.append(
                {
                    "model": model,
                    "split": split,
                    "accuracy": report["accuracy"],
                    "macro-F1": report["macro_f1"],
                    "macro-F1 interval": interval(report["macro_f1_ci"]),
                    "ECE": report["ece"],
                    "ECE after T": report["ece_after_temperature"],
                }
            )
    return pd.DataFrame(rows).set_index(["model", "split"])


def misclassified(
    probabilities: np.ndarray, labels: np.ndarray, frame: pd.DataFrame
) -> pd.DataFrame:
    """The wrongly classified images, most confident first: row index, truth, guess, source."""
    predictions = np.argmax(probabilities, axis=1)
    wrong = np.flatnonzero(predictions != labels)
    table = pd.DataFrame(
        {
            "index": wrong,
            "true": [CLASSES[i] for i in labels[wrong]],
            "predicted": [CLASSES[i] for i in predictions[wrong]],
            "probability": probabilities[wrong, predictions[wrong]],
            "source": frame["source"].to_numpy()[wrong] if "source" in frame else "",
        }
    )
    return table.sort_values("probability", ascending=False, kind="stable").reset_index(drop=True)


def interval(bounds: list[float] | None) -> str:
    return "—" if bounds is None else f"[{bounds[0]:.3f}, {bounds[1]:.3f}]"


def number(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"
