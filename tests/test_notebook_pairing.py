"""The deterministic pairing check passes on main and fails on an edited `.py`."""

from __future__ import annotations

import shutil
from pathlib import Path

import jupytext
import nbformat

from medcnn.config import project_root
from medcnn.notebook_pairing import pairing_problems


def test_committed_notebooks_are_paired() -> None:
    folder = project_root() / "notebooks"
    assert pairing_problems(folder) == []


def write_pair(folder: Path) -> Path:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_markdown_cell("# Title"), nbformat.v4.new_code_cell("x = 1")]
    notebook.metadata["jupytext"] = {"formats": "ipynb,py:percent"}
    jupytext.write(notebook, folder / "demo.ipynb")
    jupytext.write(notebook, folder / "demo.py", fmt="py:percent")
    return folder / "demo.py"


def test_edited_script_is_out_of_sync(tmp_path: Path) -> None:
    script = write_pair(tmp_path)
    assert pairing_problems(tmp_path) == []
    script.write_text(script.read_text().replace("x = 1", "x = 2"))
    assert any("out of sync" in problem for problem in pairing_problems(tmp_path))


def test_outputs_and_missing_pairs_are_reported(tmp_path: Path) -> None:
    write_pair(tmp_path)
    notebook = nbformat.read(tmp_path / "demo.ipynb", as_version=4)
    notebook.cells[1].outputs = [nbformat.v4.new_output("stream", text="1\n")]
    nbformat.write(notebook, tmp_path / "demo.ipynb")
    shutil.copy(tmp_path / "demo.py", tmp_path / "lonely.py")
    problems = pairing_problems(tmp_path)
    assert any("carries outputs" in problem for problem in problems)
    assert any("lonely.py: no paired" in problem for problem in problems)
