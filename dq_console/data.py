"""Cached loaders: a run, its insights and its 2-D map, read once per process and shared by
every session (keyed by the run's path and content hash, so a rebuilt run is read again)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st

from dq.insights import SplitInsights, run_insights
from dq.insights.maps import split_map
from dq.store import Run, RunEntry
from dq.store.layout import RUN_JSON


def open_run(entry: RunEntry) -> Run:
    """The run of a ``list_runs`` entry, read once per version of its run.json."""
    return load_run(str(entry.path), (Path(entry.path) / RUN_JSON).stat().st_mtime)


@st.cache_resource(show_spinner=False, max_entries=8)
def load_run(path: str, mtime: float) -> Run:
    """The run at ``path`` (``mtime`` of its run.json is part of the key)."""
    return Run(path)


@st.cache_resource(show_spinner="Computing insights (once per run)...", max_entries=8)
def load_insights(path: str, content_hash: str) -> dict[str, SplitInsights]:
    """Every split's insights; frames are shared between sessions: never modify them in place."""
    return run_insights(Run(path))


@st.cache_resource(show_spinner="Laying out the 2-D map (once per run and split)...", max_entries=16)
def load_map(path: str, content_hash: str, split: str) -> np.ndarray:
    """(n, 2) map coordinates of ``split``."""
    return split_map(Run(path), split)
