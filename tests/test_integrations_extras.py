"""Each integration's framework is an optional extra: absent, it fails in one line naming the extra."""

from __future__ import annotations

import importlib
import importlib.util
import os
import subprocess
import sys

import pytest

from dq.errors import DQError, MissingExtraError

CASES = [
    (
        "dq.integrations.transformers",
        "transformers",
        "dq.integrations.transformers needs Hugging Face transformers: pip install 'dq-studio[hf]'",
    ),
    ("dq.integrations.torch", "torch", "dq.integrations.torch needs PyTorch: pip install 'dq-studio[torch]'"),
    ("dq.integrations.keras", "keras", "dq.integrations.keras needs Keras 3: pip install 'dq-studio[keras]'"),
    ("dq.integrations.setfit", "setfit", "dq.integrations.setfit needs SetFit: pip install 'dq-studio[setfit]'"),
]


@pytest.mark.parametrize(("module", "framework", "message"), CASES)
def test_a_missing_framework_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, module: str, framework: str, message: str
) -> None:
    monkeypatch.setitem(sys.modules, framework, None)  # what `import framework` sees when it is not installed
    monkeypatch.delitem(sys.modules, module, raising=False)
    with pytest.raises(MissingExtraError) as info:
        importlib.import_module(module)
    assert str(info.value) == message
    assert isinstance(info.value, DQError) and isinstance(info.value, ImportError)


def test_keras_2_is_refused_with_the_same_message(monkeypatch: pytest.MonkeyPatch) -> None:
    keras_2 = type(sys)("keras")
    keras_2.__version__ = "2.15.0"
    monkeypatch.setitem(sys.modules, "keras", keras_2)
    monkeypatch.delitem(sys.modules, "dq.integrations.keras", raising=False)
    with pytest.raises(
        MissingExtraError, match=r"^dq.integrations.keras needs Keras 3: pip install 'dq-studio\[keras\]'$"
    ):
        importlib.import_module("dq.integrations.keras")


def test_the_core_imports_no_framework() -> None:
    code = (
        "import sys, dq, dq.integrations; "
        "print(','.join(m for m in ('transformers', 'keras', 'setfit', 'tensorflow') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""


def _import_keras_backend(tmp_path, *, preamble: str = "", keras_json: str | None = None):
    """Import dq.integrations.keras in a fresh process with no KERAS_BACKEND; its stdout is keras's backend."""
    tmp_path.mkdir(exist_ok=True)
    if keras_json is not None:
        (tmp_path / ".keras").mkdir()
        (tmp_path / ".keras" / "keras.json").write_text(keras_json, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("KERAS_BACKEND", "KERAS_HOME")}
    code = preamble + "import dq.integrations.keras, keras; print(keras.backend.backend())"
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={**env, "HOME": str(tmp_path)}
    )


def test_keras_without_tensorflow_takes_the_torch_backend(tmp_path) -> None:
    # Without tensorflow (hidden here: the test extra installs it), Keras's default backend would fail
    # inside `import keras` with "No module named 'tensorflow'".
    hide = "import sys; sys.modules.update(tensorflow=None); "
    result = _import_keras_backend(tmp_path / "fresh", preamble=hide)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "torch"
    # keras.json naming the absent default is no choice either; naming an installed backend is.
    result = _import_keras_backend(tmp_path / "defaulted", preamble=hide, keras_json='{"backend": "tensorflow"}')
    assert (result.returncode, result.stdout.strip()) == (0, "torch"), result.stderr
    # With tensorflow installed, Keras's own default stands.
    result = _import_keras_backend(tmp_path / "with-tf")
    assert (result.returncode, result.stdout.strip()) == (0, "tensorflow"), result.stderr


def test_keras_with_no_backend_installed_fails_in_one_line(tmp_path) -> None:
    hide = "import sys; sys.modules.update(torch=None, tensorflow=None, jax=None); "
    result = _import_keras_backend(tmp_path, preamble=hide)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "dq.errors.MissingExtraError: dq.integrations.keras needs a Keras backend: "
        "pip install 'dq-studio[torch]' (or tensorflow or jax), or set KERAS_BACKEND"
    )
