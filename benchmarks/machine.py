"""What the numbers were measured on: CPU, cores, library versions, and matmul throughput."""

from __future__ import annotations

import os
import platform
import time
from importlib.metadata import version
from pathlib import Path

import numpy as np

LIBRARIES = ("tensorflow-cpu", "keras", "numpy", "pillow", "medcnn")


def cpu_model() -> str:
    try:
        lines = Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines()
    except OSError:
        lines = []
    for line in lines:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def library_versions() -> dict[str, str]:
    found = {}
    for name in LIBRARIES:
        try:
            found[name] = version(name)
        except Exception:
            found[name] = "not installed"
    return found


def machine_facts() -> dict:
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cpu": cpu_model(),
        "cores_usable": usable,
        "cores_total": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "libraries": library_versions(),
    }


def matmul_gflops(size: int = 1024, seconds: float = 2.0) -> float:
    """Sustained float32 matrix-multiply throughput through TensorFlow (the training engine)."""
    import tensorflow as tf

    a = tf.random.stateless_normal((size, size), seed=(1, 2))
    b = tf.random.stateless_normal((size, size), seed=(3, 4))
    matmul = tf.function(lambda x, y: tf.reduce_sum(tf.matmul(x, y)))
    matmul(a, b).numpy()
    runs, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        matmul(a, b).numpy()
        runs += 1
    elapsed = time.perf_counter() - start
    return float(np.round(2 * size**3 * runs / elapsed / 1e9, 2))
