"""The Keras notebook's flow (tests/test_galileo_keras.py) on Keras 3's TensorFlow backend, in a fresh
process: Keras reads its backend once per process, and the rest of the suite runs it on torch."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def test_keras_notebook_on_the_tensorflow_backend(tmp_path: Path) -> None:
    env = {**os.environ, "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--basetemp", str(tmp_path / "t"),
         f"{TESTS / 'test_galileo_keras.py'}::test_keras_notebook",
         f"{TESTS / 'test_galileo_keras.py'}::test_keras_layer_errors"],
        env=env, cwd=TESTS.parent, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "2 passed" in done.stdout
