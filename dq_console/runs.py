"""The Runs page's tables over :func:`dq.store.list_runs`: finished runs, and apart from them the
directories under ``$DQ_HOME/runs/<project>/`` that are not (yet) runs, with the reason."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd
import streamlit as st

from dq.config import runs_root
from dq.edits.compare import EVAL_SPLITS
from dq.errors import DQError
from dq.insights.compute import label_indices
from dq.insights.metrics import metric_value
from dq.store import RunEntry, list_runs
from dq_console.text import plural


@dataclass(frozen=True)
class RunListing:
    """Every run directory under ``root``: finished newest first, unfinished by name."""

    root: Path
    finished: list[RunEntry]
    unfinished: list[RunEntry]

    @property
    def is_empty(self) -> bool:
        return not self.finished and not self.unfinished


def run_listing(home: Path | None = None) -> RunListing:
    """The runs under ``<home>/runs`` (default ``$DQ_HOME/runs``), split for the two tables.

    Examples
    --------
    >>> import tempfile
    >>> run_listing(Path(tempfile.mkdtemp())).is_empty
    True
    """
    entries = list_runs(home)
    return RunListing(
        root=runs_root(home),
        finished=[e for e in entries if e.finished],
        unfinished=[e for e in entries if not e.finished],
    )


def parent_of(entry: RunEntry) -> str:
    """The run a retrain was trained from ("project/run"), or "" for a run that is no retrain."""
    source = (entry.meta or {}).get("source")
    return str(source.get("parent") or "") if isinstance(source, dict) else ""


@st.cache_data(show_spinner=False, max_entries=256)
def headline(path: str, content_hash: str) -> tuple[str, float | None]:
    """(what, value): the last epoch's accuracy on the run's first evaluation split (validation, else
    test, else training). Read from the run's files, once per run content."""
    from dq.store import Run

    run = Run(path)
    split = next((s for s in EVAL_SPLITS if s in run.splits), run.splits[0])
    try:
        labels = label_indices(run.samples(split, columns=["label"])["label"], run.labels)
        preds = run.probs(split).argmax(axis=1)
    except DQError:  # a damaged split: the run is still listed, its metric is not known
        return split, None
    return split, metric_value("accuracy", labels, preds, len(run.labels))


def finished_table(runs: list[RunEntry]) -> pd.DataFrame:
    """One row a finished run, every cell plain text or a number (shown by ``st.dataframe``)."""
    metrics = [headline(str(r.path), str((r.meta or {}).get("content_hash", ""))) for r in runs]
    return pd.DataFrame(
        [
            {
                "project": r.project,
                "run": r.run,
                "parent": parent_of(r),
                "accuracy": value,
                "on": split,
                "created": _format_created(r.created),
                "samples": sum(r.n_samples.values()),
                "splits": " · ".join(
                    f"{split} {n:,} ({plural(r.n_epochs.get(split, 0), 'epoch')})" for split, n in r.n_samples.items()
                ),
                "labels": r.n_labels,
            }
            for r, (split, value) in zip(runs, metrics)
        ],
        columns=["project", "run", "parent", "accuracy", "on", "created", "samples", "splits", "labels"],
    )


def unfinished_table(runs: list[RunEntry]) -> pd.DataFrame:
    """One row an unfinished directory: where it is and why it is not a run."""
    return pd.DataFrame(
        [{"project": r.project, "directory": r.path.name, "reason": r.reason} for r in runs],
        columns=["project", "directory", "reason"],
    )


#: Headers and number formats of the two tables, for ``st.dataframe(..., column_config=...)``.
FINISHED_COLUMNS = {
    "project": "Project",
    "run": "Run",
    "parent": st.column_config.TextColumn("Retrain of", help="The run whose fixed data this run was trained on"),
    "accuracy": st.column_config.NumberColumn(
        "Accuracy", format="%.3f", help="Last epoch's accuracy on the split named beside it"
    ),
    "on": "On split",
    "created": "Created",
    "samples": st.column_config.NumberColumn("Samples", format="localized"),
    "splits": "Splits (samples, epochs logged)",
    "labels": st.column_config.NumberColumn("Labels", format="localized"),
}
UNFINISHED_COLUMNS = {"project": "Project", "directory": "Directory", "reason": "Why it is not a run"}


def _format_created(created: str) -> str:
    try:
        return datetime.fromisoformat(created).strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return created
