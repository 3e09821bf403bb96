"""Command-line paths that must end in one line on stderr, never a traceback."""

from __future__ import annotations

import tarfile

import pytest

from medcnn.cli import main
from medcnn.config import CLASSES
from medcnn.data.build import BuildError, BuildSettings, build_dataset, load_settings
from tests.helpers import save_tiny_model, synthetic_image


def one_line_error(capsys, argv: list[str]) -> str:
    """Run `medcnn argv`, check it failed with one line on stderr and no traceback; the line."""
    assert main(argv) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "Traceback" not in error, error
    assert error.startswith("medcnn: error: ")
    return error


def test_pack_names_a_missing_mirror_folder(tmp_path, capsys) -> None:
    error = one_line_error(capsys, ["data", "pack", str(tmp_path / "nowhere"), str(tmp_path)])
    assert "nowhere: no such folder" in error


def test_pack_refuses_a_folder_without_sources(tmp_path, capsys) -> None:
    error = one_line_error(capsys, ["data", "pack", str(tmp_path), str(tmp_path / "out")])
    assert "no source folder" in error and not (tmp_path / "out").exists()


def test_pack_writes_one_archive_per_source(write_source, tmp_path, capsys) -> None:
    write_source("alpha", "brain", {"a": synthetic_image(1)})
    assert main(["data", "pack", str(write_source.raw), str(tmp_path / "out")]) == 0
    assert "alpha.tar.gz  sha256 " in capsys.readouterr().out
    with tarfile.open(tmp_path / "out" / "alpha.tar.gz") as archive:
        assert "alpha/files.csv" in archive.getnames()


def test_fetch_names_an_unknown_source(capsys) -> None:
    error = one_line_error(capsys, ["data", "fetch", "--only", "no-such-source"])
    assert "no-such-source" in error


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, "no build settings"),
        ("seed: [0\n", "not valid YAML at line"),
        ("- seed\n", "expected a mapping"),
        ("seeed: 0\n", "unknown setting 'seeed'"),
        ("near_twin:\n  max_distance: 3\n", "unknown setting near_twin.max_distance"),
        ("image_size: 64\n", "image_size is the model's input contract"),
    ],
)
def test_build_settings_errors_are_one_line(tmp_path, monkeypatch, capsys, text, expected) -> None:
    monkeypatch.setenv("MEDCNN_DATA_DIR", str(tmp_path))
    if text is not None:
        (tmp_path / "dataset.yml").write_text(text)
    assert expected in one_line_error(capsys, ["data", "build", "--quiet"])
    with pytest.raises(BuildError, match=expected):
        load_settings(tmp_path / "dataset.yml")


def test_the_committed_settings_load_and_use_the_canonical_size() -> None:
    settings = load_settings()
    assert settings.image_size == 128 and settings.external_sources


def test_evaluate_without_a_validation_split_is_one_line(write_source, tmp_path, capsys) -> None:
    sources = [
        write_source(label, label, {f"{label}{i}": synthetic_image(10 * n + i) for i in range(6)})
        for n, label in enumerate(CLASSES)
    ]
    processed = tmp_path / "out"
    no_val = BuildSettings(split_fractions={"train": 0.5, "test": 0.5})
    build_dataset(write_source.raw, processed, no_val, sources, progress=False)
    model = save_tiny_model(tmp_path / "tiny.keras")
    argv = ["evaluate", "--model", str(model), "--split", "test", "--processed", str(processed)]
    error = one_line_error(capsys, [*argv, "--resamples", "10"])
    assert "'val' is empty or unknown" in error
