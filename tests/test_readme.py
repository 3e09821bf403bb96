"""The README's figures are those of the committed result files and of sources.yml."""

from __future__ import annotations

from medcnn.config import CLASSES
from medcnn.data.build import load_settings
from medcnn.data.sources import load_sources
from medcnn.presentation.readme import BEGIN, END, readme_path, results_block


def test_the_readme_results_are_rendered_from_the_result_files() -> None:
    text = readme_path().read_text()
    block = text[text.index(BEGIN) : text.index(END) + len(END)]
    assert block == results_block(), "run `python -m medcnn.presentation.readme`"


def test_the_readme_counts_are_those_of_sources_yml() -> None:
    sources = load_sources()
    text = " ".join(readme_path().read_text().split())
    total = sum(source.images for source in sources)
    assert f"{total:,} real public images from {len(sources)} sources" in text
    for label in CLASSES:
        mine = [source for source in sources if source.label == label]
        count = sum(source.images for source in mine)
        assert f"{label} {count:,} from {len(mine)}" in text, label
    external = set(load_settings().external_sources)
    held = sum(source.images for source in sources if source.slug in external)
    assert f"(other); {held:,} images" in text
