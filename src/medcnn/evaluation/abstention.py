"""How often the model says "unsure", and how often it is wrong without saying so.

`asserted_error_rate` is the share of *all* images that are wrong and not flagged: the
error a user meets. `accuracy_when_sure` is the accuracy among the answers given. A
risk–coverage curve (error among the answers given against the share answered) shows
every operating point of one confidence score at once.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def abstention_figures(right: np.ndarray, unsure: np.ndarray) -> dict[str, float | None]:
    """`images`, `unsure_rate`, `asserted_error_rate` and `accuracy_when_sure` (None if none)."""
    right, unsure = np.asarray(right, bool), np.asarray(unsure, bool)
    if len(right) == 0:
        raise ValueError("no images")
    sure = ~unsure
    return {
        "images": int(len(right)),
        "unsure_rate": float(unsure.mean()),
        "asserted_error_rate": float((sure & ~right).mean()),
        "accuracy_when_sure": float(right[sure].mean()) if sure.any() else None,
    }


def abstention_by_group(right: np.ndarray, unsure: np.ndarray, groups: np.ndarray) -> dict:
    """`abstention_figures` overall (key "all") and for each group (e.g. each source)."""
    right, unsure, groups = np.asarray(right), np.asarray(unsure), np.asarray(groups)
    figures = {"all": abstention_figures(right, unsure)}
    for group in sorted(set(groups.tolist())):
        members = groups == group
        figures[str(group)] = abstention_figures(right[members], unsure[members])
    return figures


def risk_coverage(confidence: np.ndarray, right: np.ndarray) -> pd.DataFrame:
    """Answering the most confident images first: `coverage` (share answered) and `risk`
    (error among them), one row per image count; ties in confidence enter together."""
    confidence, right = np.asarray(confidence, np.float64), np.asarray(right, bool)
    order = np.argsort(-confidence, kind="stable")
    errors = np.cumsum(~right[order])
    answered = np.arange(1, len(order) + 1)
    last_of_tie = np.r_[confidence[order][1:] != confidence[order][:-1], True]
    return pd.DataFrame(
        {
            "coverage": answered[last_of_tie] / len(order),
            "risk": errors[last_of_tie] / answered[last_of_tie],
        }
    )
