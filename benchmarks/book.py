"""The book's execution: which notebooks need running, and how long each took under nbmake.

`make book` executes each notebook of `_toc.yml` with `pytest --nbmake` into the staged
book (`_book/`, see the Makefile) and keeps, beside each executed notebook, its
junit record (`.xml`: seconds, time, pass or fail) and its execution key (`.key`). The
key hashes what a run depends on: the notebook and its jupytext pair, the package's
sources, the manifest and the models. A notebook whose key is unchanged is not run
again; `current: false` marks a record whose inputs have changed since.
"""

from __future__ import annotations

import hashlib
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import yaml

STAGE = Path("_book")


def toc_files(entry) -> list[str]:
    """Every `root` and `file` of a `_toc.yml`, in reading order."""
    if isinstance(entry, list):
        return [name for item in entry for name in toc_files(item)]
    if not isinstance(entry, dict):
        return []
    own = [entry[key] for key in ("root", "file") if key in entry]
    return own + [name for value in entry.values() for name in toc_files(value)]


def is_notebook(path: Path) -> bool:
    """An .ipynb, or a MyST markdown file whose front matter names a kernel."""
    if path.suffix == ".ipynb":
        return True
    text = path.read_text(encoding="utf-8")
    return text.startswith("---") and "kernelspec" in text.split("---", 2)[1]


def toc_notebooks(root: Path) -> list[Path]:
    """The notebooks of the book, in the order of its table of contents."""
    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    found = []
    for name in toc_files(toc):
        candidates = [root / name, root / f"{name}.ipynb", root / f"{name}.md"]
        path = next((path for path in candidates if path.is_file()), None)
        if path is not None and is_notebook(path):
            found.append(path)
    return found


def notebook_source(root: Path, name: str) -> Path:
    """The file behind a table-of-contents entry: `name.ipynb`, else the MyST `name.md`."""
    ipynb = root / f"{name}.ipynb"
    return ipynb if ipynb.is_file() else root / f"{name}.md"


def key_inputs(root: Path, notebook: Path) -> list[Path]:
    """The files a notebook's outputs depend on, in a fixed order."""
    package = sorted((root / "src" / "medcnn").rglob("*.py"))
    models = sorted(path for path in (root / "models").glob("*") if path.is_file())
    data = [root / "data" / "processed" / "manifest.csv", root / "benchmarks" / "results.json"]
    candidates = [notebook, notebook.with_suffix(".py"), *package, *data, *models]
    return [path for path in candidates if path.is_file()]


def execution_key(root: Path, notebook: Path) -> str:
    """SHA-256 over the names and contents of `key_inputs`."""
    digest = hashlib.sha256()
    for path in key_inputs(root, notebook):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def record(root: Path, notebook: Path, suffix: str) -> Path:
    """Where the staged book keeps a notebook's `.xml` or `.key`."""
    return root / STAGE / notebook.relative_to(root).with_suffix(suffix)


def read_junit(path: Path) -> dict:
    """Seconds, start time and outcome of one nbmake run from its junit xml."""
    suite = ElementTree.parse(path).getroot()
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
    cases = suite.findall("testcase")
    failed = any(
        case.find("failure") is not None or case.find("error") is not None for case in cases
    )
    return {
        "seconds": round(sum(float(case.get("time", 0)) for case in cases), 1),
        "executed_at": suite.get("timestamp", "")[:19],
        "passed": bool(cases) and not failed,
    }


def execution_times(root: Path) -> dict:
    """Seconds per notebook of the book under `root` and their total, from nbmake's records."""
    note = {"note": f"no nbmake record under {root / STAGE}: run `make book` first"}
    if not (root / STAGE).is_dir():
        return note
    notebooks, missing = {}, []
    for path in toc_notebooks(root):
        name = path.relative_to(root).as_posix()
        junit, key = record(root, path, ".xml"), record(root, path, ".key")
        if not junit.is_file():
            missing.append(name)
            continue
        stored = key.read_text().strip() if key.is_file() else ""
        notebooks[name] = {**read_junit(junit), "current": stored == execution_key(root, path)}
    if not notebooks:
        return note
    return {
        "records": STAGE.as_posix(),
        "notebooks": notebooks,
        "total_seconds": round(sum(entry["seconds"] for entry in notebooks.values()), 1),
        "not_executed": missing,
    }


def main(argv: list[str]) -> None:
    """`key NAME` (a `_toc.yml` entry): print its execution key; else the seconds per notebook."""
    root = Path.cwd()
    if argv[:1] == ["key"]:
        print(execution_key(root, notebook_source(root, argv[1])))
        return
    times = execution_times(root)
    if "note" in times:
        print(times["note"])
        return
    for name, entry in times["notebooks"].items():
        state = "" if entry["passed"] else "  failed"
        print(f"  {name:<40} {entry['seconds']:>7.1f} s{state}")
    print(f"  {'all notebooks':<40} {times['total_seconds']:>7.1f} s")
    for name in times["not_executed"]:
        print(f"  {name:<40} not executed")


if __name__ == "__main__":
    main(sys.argv[1:])
