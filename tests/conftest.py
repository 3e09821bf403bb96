"""Shared fixtures: tiny synthetic image sources laid out like the real mirror."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path

import pytest

from medcnn.data.build import BuildSettings
from medcnn.data.sources import Source
from tests import helpers

SourceWriter = Callable[..., Source]


@pytest.fixture
def write_source(tmp_path: Path) -> SourceWriter:
    """`helpers.write_source` into `tmp_path/raw`, which the writer carries as `.raw`."""
    raw = tmp_path / "raw"
    write = partial(helpers.write_source, raw)
    write.raw = raw
    return write


@pytest.fixture
def settings() -> BuildSettings:
    """Small canonical images; an even three-way split so small tests fill every split."""
    return BuildSettings(
        image_size=32,
        seed=0,
        split_fractions={"train": 0.6, "val": 0.2, "test": 0.2},
        external_sources=(),
    )
