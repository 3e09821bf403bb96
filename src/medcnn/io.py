"""Small helpers every layer uses: atomic writes and one-line messages."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def write_atomic(path: Path, data: bytes) -> None:
    """Write through a temporary file and rename, so a reader never sees half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", delete=False) as tmp:
        tmp.write(data)
    os.replace(tmp.name, path)


def results_json(value: Any, depth: int = 0) -> str:
    """Indented JSON in which a list of plain values stays on one line: a results file that
    keeps per-image figures is read and diffed by line, at a fraction of the usual size."""
    inner, outer = " " * (depth + 1), " " * depth
    if isinstance(value, dict) and value:
        items = (
            f"{inner}{json.dumps(str(key))}: {results_json(item, depth + 1)}"
            for key, item in value.items()
        )
        return "{\n" + ",\n".join(items) + f"\n{outer}}}"
    if isinstance(value, list | tuple) and any(
        isinstance(item, dict | list | tuple) for item in value
    ):
        items = (f"{inner}{results_json(item, depth + 1)}" for item in value)
        return "[\n" + ",\n".join(items) + f"\n{outer}]"
    return json.dumps(value, allow_nan=False)


def one_line(text: str, limit: int = 240) -> str:
    """First non-empty line of `text`, shortened to `limit` characters."""
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    line = lines[0] if lines else "unknown error"
    return line if len(line) <= limit else line[: limit - 1] + "…"
