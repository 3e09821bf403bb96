"""The README's figures are the committed result files' figures."""

from __future__ import annotations

from medcnn.presentation.readme import BEGIN, END, readme_path, results_block


def test_the_readme_results_are_rendered_from_the_result_files() -> None:
    text = readme_path().read_text()
    block = text[text.index(BEGIN) : text.index(END) + len(END)]
    assert block == results_block(), "run `python -m medcnn.presentation.readme`"
