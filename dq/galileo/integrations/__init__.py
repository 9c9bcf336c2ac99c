"""dataquality's integrations, by the same module names: ``transformers_trainer``, ``torch``,
``setfit``, ``keras`` and ``legacy.keras``. Each imports its framework only when it is imported
itself (a missing framework is named with the extra that installs it)."""

from __future__ import annotations

import importlib
from typing import Any

_MODULES = ("transformers_trainer", "torch", "setfit", "keras", "legacy")


def __getattr__(name: str) -> Any:
    if name in _MODULES:
        return importlib.import_module(f"dq.galileo.integrations.{name}")
    raise AttributeError(f"module 'dq.galileo.integrations' has no attribute {name!r}")
