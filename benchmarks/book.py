"""The book's execution time per notebook, read from the jupyter-cache of the last `make book`.

`execute_notebooks: cache` makes Jupyter Book store each executed notebook in
`_build/.jupyter_cache` with its run time (`execution_seconds`). Nothing is
executed here: a notebook whose cached record no longer matches its code is
flagged `current: false`, one without a record is listed as not executed.
"""

from __future__ import annotations

from pathlib import Path

import jupytext
import yaml

CACHE = Path("_build") / ".jupyter_cache"


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
    """The notebooks the book executes, in the order of its table of contents."""
    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    found = []
    for name in toc_files(toc):
        candidates = [root / name, root / f"{name}.ipynb", root / f"{name}.md"]
        path = next((path for path in candidates if path.is_file()), None)
        if path is not None and is_notebook(path):
            found.append(path)
    return found


def execution_times(root: Path) -> dict:
    """Seconds per notebook of the book under `root` and their total, from its cache."""
    from jupyter_cache import get_cache

    folder = root / CACHE
    if not (folder / "global.db").is_file():
        return {"note": f"no jupyter-cache at {folder}: run `make book` first (nothing executed)"}
    cache = get_cache(folder)
    latest = {}
    for record in sorted(cache.list_cache_records(), key=lambda record: record.created):
        latest[Path(record.uri).resolve()] = record
    notebooks, missing = {}, []
    for path in toc_notebooks(root):
        record = latest.get(path.resolve())
        if record is None:
            missing.append(path.relative_to(root).as_posix())
            continue
        try:
            current = cache.match_cache_notebook(jupytext.read(path)).pk == record.pk
        except KeyError:
            current = False
        notebooks[path.relative_to(root).as_posix()] = {
            "seconds": round(record.data["execution_seconds"], 1),
            "executed_at": record.created.isoformat(timespec="seconds"),
            "current": current,
        }
    return {
        "cache": CACHE.as_posix(),
        "notebooks": notebooks,
        "total_seconds": round(sum(entry["seconds"] for entry in notebooks.values()), 1),
        "not_executed": missing,
    }


def main() -> None:
    """Print the seconds per notebook of the last `make book` (CI's timing summary)."""
    times = execution_times(Path.cwd())
    if "note" in times:
        print(times["note"])
        return
    for name, entry in times["notebooks"].items():
        print(f"  {name:<40} {entry['seconds']:>7.1f} s")
    print(f"  {'all notebooks':<40} {times['total_seconds']:>7.1f} s")
    for name in times["not_executed"]:
        print(f"  {name:<40} not executed")


if __name__ == "__main__":
    main()
