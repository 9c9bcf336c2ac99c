"""Import an optional framework, or say in one line which extra of dq-studio installs it."""

from __future__ import annotations

import importlib
from types import ModuleType

from dq.errors import MissingExtraError


def missing_extra(integration: str, needs: str, extra: str) -> MissingExtraError:
    """The error an integration raises when its framework is absent (or too old).

    >>> str(missing_extra("dq.integrations.keras", "Keras 3", "keras"))
    "dq.integrations.keras needs Keras 3: pip install 'dq-studio[keras]'"
    """
    return MissingExtraError(f"{integration} needs {needs}: pip install 'dq-studio[{extra}]'")


def require(module: str, *, integration: str, needs: str, extra: str) -> ModuleType:
    """Import ``module``; if it (not one of its own dependencies) is missing, raise ``MissingExtraError``.

    Parameters
    ----------
    module : str
        Top-level name of the framework, e.g. ``"keras"``.
    integration, needs, extra : str
        The dq module asking, what it needs in words, and the extra of dq-studio that installs it.

    Examples
    --------
    >>> require("json", integration="dq.integrations.x", needs="json", extra="x").__name__
    'json'
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        # A framework that is present but fails on one of its own imports is the user's to see as is.
        if exc.name is not None and exc.name.split(".")[0] != module:
            raise
        raise missing_extra(integration, needs, extra) from None
