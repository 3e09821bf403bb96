"""The built book (`make book`): every page exists, notebook figures are embedded, no errors.

Reads `_build/html`. Outside CI the tests skip when the book has not been built;
in CI (`make test` builds it first) its absence is a failure.
"""

from __future__ import annotations

import os
import re

import pytest
import yaml

from medcnn.config import project_root

HTML = project_root() / "_build" / "html"
ERROR_MARKERS = ("Traceback (most recent call last)", "output traceback", "output error")
STDERR_MARKERS = (
    "output stderr",  # myst-nb's class for a cell's stderr stream
    "absl::InitializeLog()",
    "oneDNN custom operations are on",
    "cpu_feature_guard",
)


def toc_files() -> list[str]:
    toc = yaml.safe_load((project_root() / "_toc.yml").read_text())
    files = [toc["root"]]
    for entry in toc.get("chapters", []) + [
        chapter for part in toc.get("parts", []) for chapter in part.get("chapters", [])
    ]:
        files.append(entry["file"])
    return files


@pytest.fixture(scope="module")
def pages() -> dict[str, str]:
    if not (HTML / "index.html").is_file():
        if os.environ.get("CI"):
            pytest.fail("_build/html is missing: `make book` must run before these tests")
        pytest.skip("the book is not built: run `make book`")
    return {name: (HTML / f"{name}.html").read_text() for name in toc_files()}


def test_every_page_of_the_toc_is_built(pages) -> None:
    assert all(pages.values())
    assert len(pages) >= 3


def test_notebook_pages_embed_their_figures(pages) -> None:
    notebooks = [name for name in pages if name.startswith("notebooks/")]
    assert notebooks, "no notebook page in the table of contents"
    for name in notebooks:
        figures = re.findall(r'<img[^>]+src="(\.\./_images/[^"]+\.png)"', pages[name])
        assert figures, f"{name}: no figure"
        for source in figures:
            assert (HTML / "notebooks" / source).resolve().is_file(), f"{name}: {source}"


def test_no_page_shows_an_error_or_traceback(pages) -> None:
    for name, html in pages.items():
        found = [marker for marker in ERROR_MARKERS if marker in html]
        assert not found, f"{name}: {found}"


def test_no_page_shows_stderr(pages) -> None:
    """TensorFlow's start-up lines, warnings and progress bars stay out of the book."""
    for name, html in pages.items():
        found = [marker for marker in STDERR_MARKERS if marker in html]
        assert not found, f"{name}: {found}"
