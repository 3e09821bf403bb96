"""Check that each notebook's `.py` (py:percent, what people edit) and `.ipynb` agree.

Deterministic, unlike `jupytext --sync`, which trusts file timestamps: both
files are parsed and their cells (type and source, in order) compared. Header
metadata such as the jupytext version is not compared. The committed `.ipynb`
must also carry no outputs.
"""

from __future__ import annotations

import sys
from pathlib import Path

import jupytext


def cell_texts(notebook) -> list[tuple[str, str]]:
    return [(cell.cell_type, cell.source.strip()) for cell in notebook.cells]


def pairing_problems(folder: Path) -> list[str]:
    """One line per notebook pair that is missing, out of sync, or carries outputs."""
    problems = []
    for script in sorted(folder.glob("*.py")):
        notebook_path = script.with_suffix(".ipynb")
        if not notebook_path.is_file():
            problems.append(f"{script}: no paired {notebook_path.name}")
            continue
        notebook = jupytext.read(notebook_path)
        if cell_texts(notebook) != cell_texts(jupytext.read(script, fmt="py:percent")):
            problems.append(
                f"{script}: out of sync with {notebook_path.name}; run "
                f"`jupytext --to ipynb {script}`"
            )
        if any(
            cell.get("outputs") or cell.get("execution_count")
            for cell in notebook.cells
            if cell.cell_type == "code"
        ):
            problems.append(f"{notebook_path}: carries outputs; commit it output-free")
    return problems


def main(argv: list[str] | None = None) -> int:
    folders = [Path(arg) for arg in (argv if argv is not None else sys.argv[1:])] or [
        Path("notebooks")
    ]
    problems = [problem for folder in folders for problem in pairing_problems(folder)]
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
