"""Reading a source folder's `files.csv`: the one reader the build and `medcnn evaluate` share."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from medcnn.config import CLASSES

COLUMNS = ("file", "label", "subtype", "modality", "view", "patient_id")
"""The columns of a files.csv; `file` and `label` are required, the others default to ""."""
REQUIRED = ("file", "label")


class ListingError(ValueError):
    """A files.csv that cannot be used: missing, without a required column, unknown labels."""


def read_files_csv(folder: Path) -> pd.DataFrame:
    """The rows of `folder/files.csv` with `path` (`<folder name>/<file>`) and `source`."""
    folder = Path(folder)
    try:
        frame = pd.read_csv(folder / "files.csv", dtype=str, keep_default_na=False)
    except FileNotFoundError:
        raise ListingError(f"{folder}: no files.csv") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as error:
        raise ListingError(f"{folder / 'files.csv'}: not a readable CSV ({error})") from None
    missing = [column for column in REQUIRED if column not in frame.columns]
    if missing:
        raise ListingError(f"{folder / 'files.csv'}: no column {', '.join(missing)}")
    unknown = sorted(set(frame["label"]) - set(CLASSES))
    if unknown:
        raise ListingError(
            f"{folder / 'files.csv'}: unknown labels {unknown}; expected some of {list(CLASSES)}"
        )
    frame = frame.reindex(columns=list(COLUMNS), fill_value="")
    frame.insert(0, "source", folder.name)
    frame.insert(0, "path", folder.name + "/" + frame["file"])
    return frame
