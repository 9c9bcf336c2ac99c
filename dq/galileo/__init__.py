"""Coming from Galileo: ``import dq.galileo as dq`` runs a text-classification notebook written for
Galileo's ``dataquality`` client unchanged, and writes a normal dq run.

>>> import dq.galileo as dq, numpy as np, tempfile
>>> dq.init(task_type="text_classification", project_name="news", run_name="first", home=tempfile.mkdtemp())
>>> dq.log_data_samples(texts=["goal!", "new GPU"], ids=[0, 1], labels=[0, 1], split="train")
>>> dq.set_labels_for_run(["sports", "tech"])                        # before or after the data
>>> dq.set_epoch_and_split(0, "training")
>>> dq.log_model_outputs(ids=[0, 1], embs=np.eye(2), logits=[[2.0, 0.0], [0.0, 2.0]])
>>> dq.finish().endswith("news/first")
True

The calls keep dataquality's names, arguments and defaults (``from dq.galileo.integrations.X
import Y`` for ``from dataquality.integrations.X import Y``); the cloud calls (``login``,
``configure``, ...) succeed with a one-line notice that dq runs locally. docs/galileo.md lists every
call and what it does here.
"""

from __future__ import annotations

from typing import Any

from dq.config import VERSION as __version__
from dq.galileo import metrics
from dq.galileo.auto import auto
from dq.galileo.core import (
    finish,
    get_current_run_labels,
    init,
    log_data_sample,
    log_data_samples,
    log_dataset,
    log_model_outputs,
    notice,
    set_epoch,
    set_epoch_and_split,
    set_labels_for_run,
    set_split,
)
from dq.galileo.session import TASK_TYPE


def login(*args: Any, **kwargs: Any) -> None:
    """Galileo's sign-in: nothing to do, dq runs locally."""
    notice("login is not needed: dq runs locally, nothing is uploaded")


def logout(*args: Any, **kwargs: Any) -> None:
    """Galileo's sign-out: nothing to do."""
    notice("logout is not needed: dq runs locally")


def configure(*args: Any, **kwargs: Any) -> None:
    """Galileo's server settings: nothing to do, dq runs locally."""
    notice("configure is not needed: dq runs locally (runs go to $DQ_HOME, default ~/.dq)")


def set_console_url(console_url: str | None = None, *args: Any, **kwargs: Any) -> None:
    """Galileo's console address: dq's console is `make run` (or `python -m dq_console.serve`)."""
    notice("there is no remote console: open runs with `make run` (python -m dq_console.serve)")


def get_run_link(project_name: str | None = None, run_name: str | None = None) -> str:
    """Where the run can be looked at: its directory (open it in the console)."""
    from dq.config import runs_root
    from dq.galileo.core import current

    if project_name is None or run_name is None:
        s = current()
        return str(s.target)
    return str(runs_root() / project_name / run_name)


def wait_for_run(project_name: str | None = None, run_name: str | None = None) -> None:
    """Galileo waited for its servers to process a run; a dq run is ready when ``finish`` returns."""
    notice("runs are ready when finish() returns: nothing to wait for")


def get_run_status(project_name: str | None = None, run_name: str | None = None) -> dict[str, Any]:
    """``{"status": "completed"}`` once the run is written (dq processes nothing remotely)."""
    from pathlib import Path

    link = Path(get_run_link(project_name, run_name))
    return {"status": "completed" if (link / "run.json").exists() else "not_found", "path": str(link)}


def set_tasks_for_run(*args: Any, **kwargs: Any) -> None:
    """Multi-label tasks are not supported."""
    from dq.errors import ValidationError

    raise ValidationError("set_tasks_for_run is for multi-label runs: dq studio supports text_classification only.")


def set_tagging_schema(*args: Any, **kwargs: Any) -> None:
    """NER tagging schemas are not supported."""
    from dq.errors import ValidationError

    raise ValidationError("set_tagging_schema is for NER runs: dq studio supports text_classification only.")


def enable_galileo() -> None:
    """Galileo's on switch: logging is always on here."""


def disable_galileo() -> None:
    """Galileo's off switch: not supported (do not call the logging functions instead)."""
    notice("disable_galileo has no effect: dq logs whenever it is called")


def enable_galileo_verbose() -> None:
    """Galileo's verbose switch: dq's errors always name the offending values."""


def disable_galileo_verbose() -> None:
    """Galileo's verbose switch: no effect."""


def docs() -> None:
    """Print where the calls are documented."""
    print(
        "dq.galileo: every dataquality call and what it does here: docs/galileo.md; the run format: docs/run-format.md"
    )


__all__ = [
    "TASK_TYPE",
    "__version__",
    "auto",
    "configure",
    "disable_galileo",
    "disable_galileo_verbose",
    "docs",
    "enable_galileo",
    "enable_galileo_verbose",
    "finish",
    "get_current_run_labels",
    "get_run_link",
    "get_run_status",
    "init",
    "log_data_sample",
    "log_data_samples",
    "log_dataset",
    "log_model_outputs",
    "login",
    "logout",
    "metrics",
    "set_console_url",
    "set_epoch",
    "set_epoch_and_split",
    "set_labels_for_run",
    "set_split",
    "set_tagging_schema",
    "set_tasks_for_run",
    "wait_for_run",
]


def __getattr__(name: str) -> Any:
    # dq.integrations.torch.watch(...) as in dataquality: the integrations load on first use (each
    # imports its framework only when it is itself imported).
    if name == "integrations":
        import importlib

        return importlib.import_module("dq.galileo.integrations")
    raise AttributeError(f"module 'dq.galileo' has no attribute {name!r}")
