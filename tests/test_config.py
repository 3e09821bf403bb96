"""Environment variables are read in medcnn.config, and importing medcnn quiets TensorFlow."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from medcnn import config
from medcnn.modeling.architectures import keras_cache


def test_seed_models_and_model_come_from_the_environment(monkeypatch) -> None:
    for name in ("MEDCNN_SEED", "MEDCNN_MODELS", "MEDCNN_MODEL"):
        monkeypatch.delenv(name, raising=False)
    assert config.training_seed() == 0
    assert config.compared_recipes(["a", "b"]) == ["a", "b"]
    assert config.chosen_model(Path("models/x.keras")) == Path("models/x.keras")
    monkeypatch.setenv("MEDCNN_SEED", "3")
    monkeypatch.setenv("MEDCNN_MODELS", "b, c")
    monkeypatch.setenv("MEDCNN_MODEL", "/tmp/m.keras")
    assert config.training_seed() == 3
    assert config.compared_recipes(["a", "b"]) == ["b", "c"]
    assert config.chosen_model(Path("models/x.keras")) == Path("/tmp/m.keras")


def test_keras_home_defaults_to_the_checkout_without_the_makefile(monkeypatch, tmp_path) -> None:
    monkeypatch.delenv("KERAS_HOME", raising=False)
    checkout = config.project_root() / ".keras-home"
    expected = checkout if checkout.is_dir() else Path.home() / ".keras"
    assert config.keras_home() == expected and keras_cache() == expected / "models"
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    assert keras_cache() == tmp_path / "models"


def test_importing_medcnn_first_keeps_tensorflow_start_up_off_stderr() -> None:
    code = "import medcnn, tensorflow as tf; print(int(tf.constant(1) + 1))"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout == "2\n"
    assert run.stderr == ""
