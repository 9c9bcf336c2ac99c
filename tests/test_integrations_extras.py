"""Each integration's framework is an optional extra: absent, it fails in one line naming the extra."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

from dq.errors import DQError, MissingExtraError

CASES = [
    ("dq.integrations.transformers", "transformers", "dq.integrations.transformers needs Hugging Face transformers: "
                                                     "pip install 'dq-studio[hf]'"),
    ("dq.integrations.torch", "torch", "dq.integrations.torch needs PyTorch: pip install 'dq-studio[torch]'"),
    ("dq.integrations.keras", "keras", "dq.integrations.keras needs Keras 3: pip install 'dq-studio[keras]'"),
    ("dq.integrations.setfit", "setfit", "dq.integrations.setfit needs SetFit: pip install 'dq-studio[setfit]'"),
]


@pytest.mark.parametrize(("module", "framework", "message"), CASES)
def test_a_missing_framework_names_the_extra(monkeypatch: pytest.MonkeyPatch, module: str, framework: str,
                                             message: str) -> None:
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
    with pytest.raises(MissingExtraError, match=r"^dq.integrations.keras needs Keras 3: pip install 'dq-studio\[keras\]'$"):
        importlib.import_module("dq.integrations.keras")


def test_the_core_imports_no_framework() -> None:
    code = (
        "import sys, dq, dq.integrations; "
        "print(','.join(m for m in ('transformers', 'keras', 'setfit', 'tensorflow') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""
