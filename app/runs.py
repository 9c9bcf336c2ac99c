"""The runs under ``$DQ_HOME/runs/<project>/<run>/``, read from their ``run.json`` for the Runs page.

A run is finished when its directory holds ``run.json`` (the run writer writes it last). Any other
directory, and any directory whose name starts with '.' (a staging directory being logged, or left
behind by a crash), is unfinished: it is listed apart and never read as a run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd
import streamlit as st

from dq.config import runs_root
from dq.store.layout import RUN_JSON, is_staging_name, target_name_of_staging


@dataclass(frozen=True)
class FinishedRun:
    """What the Runs page shows of a finished run."""

    project: str
    run: str
    path: Path
    created: str
    n_samples: dict[str, int]
    n_epochs: dict[str, int]
    n_labels: int


@dataclass(frozen=True)
class UnfinishedRun:
    """A directory under a project that holds no readable run, and why."""

    project: str
    name: str
    path: Path
    reason: str


@dataclass(frozen=True)
class RunListing:
    """Every run directory under ``root``: finished newest first, unfinished by name."""

    root: Path
    finished: list[FinishedRun]
    unfinished: list[UnfinishedRun]

    @property
    def is_empty(self) -> bool:
        return not self.finished and not self.unfinished


def list_runs(root: Path | None = None) -> RunListing:
    """Read every ``<root>/<project>/<run>/`` directory; ``root`` defaults to ``$DQ_HOME/runs``.

    Examples
    --------
    >>> import tempfile
    >>> list_runs(Path(tempfile.mkdtemp())).is_empty
    True
    """
    root = runs_root() if root is None else root
    finished: list[FinishedRun] = []
    unfinished: list[UnfinishedRun] = []
    for project_dir in _subdirs(root):
        if project_dir.name.startswith("."):
            continue  # hidden folders beside the projects are not projects
        for run_dir in _subdirs(project_dir):
            entry = _read_run(project_dir.name, run_dir)
            (finished if isinstance(entry, FinishedRun) else unfinished).append(entry)
    finished.sort(key=lambda r: (r.created, r.project, r.run), reverse=True)
    return RunListing(root=root, finished=finished, unfinished=unfinished)


def finished_table(runs: list[FinishedRun]) -> pd.DataFrame:
    """One row a finished run, every cell plain text or a number (shown by ``st.dataframe``)."""
    return pd.DataFrame(
        [
            {
                "project": r.project,
                "run": r.run,
                "created": _format_created(r.created),
                "samples": sum(r.n_samples.values()),
                "splits": " · ".join(
                    f"{split} {n:,} ({_plural(r.n_epochs.get(split, 0), 'epoch')})"
                    for split, n in r.n_samples.items()
                ),
                "labels": r.n_labels,
            }
            for r in runs
        ],
        columns=["project", "run", "created", "samples", "splits", "labels"],
    )


def unfinished_table(runs: list[UnfinishedRun]) -> pd.DataFrame:
    """One row an unfinished directory: where it is and why it is not a run."""
    return pd.DataFrame(
        [{"project": r.project, "directory": r.name, "reason": r.reason} for r in runs],
        columns=["project", "directory", "reason"],
    )


#: Headers and number formats of the two tables, for ``st.dataframe(..., column_config=...)``.
FINISHED_COLUMNS = {
    "project": "Project",
    "run": "Run",
    "created": "Created",
    "samples": st.column_config.NumberColumn("Samples", format="localized"),
    "splits": "Splits (samples, epochs logged)",
    "labels": st.column_config.NumberColumn("Labels", format="localized"),
}
UNFINISHED_COLUMNS = {"project": "Project", "directory": "Directory", "reason": "Why it is not a run"}


def _subdirs(path: Path) -> list[Path]:
    if not path.is_dir():
        return []
    return sorted(p for p in path.iterdir() if p.is_dir())


def _read_run(project: str, run_dir: Path) -> FinishedRun | UnfinishedRun:
    name = run_dir.name

    def unfinished(reason: str) -> UnfinishedRun:
        return UnfinishedRun(project=project, name=name, path=run_dir, reason=reason)

    if is_staging_name(name):
        return unfinished(f"being logged, or interrupted while logging (run {target_name_of_staging(name)!r})")
    if name.startswith("."):
        return unfinished("hidden directory")
    meta_path = run_dir / RUN_JSON
    if not meta_path.is_file():
        return unfinished(f"no {RUN_JSON}: never finished")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        splits = meta["splits"]
        return FinishedRun(
            project=project,
            run=name,
            path=run_dir,
            created=str(meta["created"]),
            n_samples={str(s): int(v["n_samples"]) for s, v in splits.items()},
            n_epochs={str(s): len(v.get("epochs", [])) for s, v in splits.items()},
            n_labels=len(meta["labels"]),
        )
    # A damaged run.json is reported on the page rather than breaking the listing of every other run.
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return unfinished(f"{RUN_JSON} unreadable: {exc}")
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        return unfinished(f"{RUN_JSON} malformed: {type(exc).__name__}: {exc}")


def _format_created(created: str) -> str:
    try:
        return datetime.fromisoformat(created).strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return created


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"
