"""The README's results at a glance, rendered from the committed result files.

`python -m medcnn.presentation.readme` rewrites the block between the two markers in
README.md; a test fails when the README's block differs from what the files give.
"""

from __future__ import annotations

import re
from pathlib import Path

from medcnn.config import project_root
from medcnn.modeling.artifacts import read_card, release_model_path
from medcnn.training import holdout, seeds
from medcnn.training.abstention import fold_images, fold_scores

BEGIN = "<!-- results: rendered by python -m medcnn.presentation.readme -->"
END = "<!-- end of results -->"


def results_block() -> str:
    """Markdown: the release model per split with its "unsure" figures, seeds and folds."""
    card = read_card(release_model_path())
    spread = seeds.read_results()
    release = spread["seeds"]["0"]["scores"]
    folds = holdout.read_results()
    per_fold = [macro_f1 for macro_f1, _ in fold_scores(fold_images(folds)).values()]
    lines = [
        BEGIN,
        f"Release model, seed {card['seed']}, trained on {card['training']['train_images']:,} "
        f"images on {card['training']['conditions']['cpu_cores']} CPU cores (figures from "
        "`models/medcnn.json` and `models/medcnn.seeds.json`):",
        "",
        "| split | images | accuracy | macro-F1 | unsure | asserted error | worst source |",
        "|---|---|---|---|---|---|---|",
    ]
    for split, title in (
        ("test", "test (held-out groups of the training sources)"),
        ("external", "external (5 sources never seen)"),
    ):
        scores = release[split]
        overall = scores["abstention"]["all"]
        worst = min(scores["source_accuracy"].items(), key=lambda item: item[1])
        lines.append(
            f"| {title} | {scores['images']:,} | {scores['accuracy']:.3f} | "
            f"{scores['macro_f1']:.3f} | {overall['unsure_rate']:.1%} | "
            f"{overall['asserted_error_rate']:.2%} | {worst[0]} {worst[1]:.1%} |"
        )
    external = [entry["scores"]["external"]["macro_f1"] for entry in spread["seeds"].values()]
    open_set = release["open_set"]["all"]
    lines += [
        "",
        f"- The release retrained (all four networks) under seeds {', '.join(spread['seeds'])}: "
        "external macro-F1 "
        f"{', '.join(f'{value:.3f}' for value in external)} "
        f"(mean {sum(external) / len(external):.3f}).",
        f"- Leave-source-out folds ({len(per_fold)}, whole training sources held out): "
        f"mean held-out macro-F1 {sum(per_fold) / len(per_fold):.3f} "
        f"(`models/medcnn.holdout.json`).",
        f"- Open-set check ({open_set['images']} images of kinds no source contains): "
        f"{open_set['asserted_brain_or_lung']} asserted brain or lung, "
        f"{open_set['unsure']} unsure, {open_set['other']} answered other.",
        END,
    ]
    return "\n".join(lines)


def readme_path() -> Path:
    return project_root() / "README.md"


def update_readme(path: Path | None = None) -> None:
    """Replace the README's results block with the one the files give now."""
    path = path or readme_path()
    text = path.read_text()
    pattern = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END), re.S)
    if not pattern.search(text):
        raise ValueError(f"{path} has no results block between {BEGIN!r} and {END!r}")
    path.write_text(pattern.sub(lambda _: results_block(), text))


if __name__ == "__main__":
    update_readme()
