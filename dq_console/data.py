"""Cached loaders: a run, its insights and its 2-D map, read once per process and shared by
every session (keyed by the run's path and content hash, so a rebuilt run is read again)."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import streamlit as st

from dq.insights import StoredSplit, stored_insights
from dq.insights.maps import split_map
from dq.store import Run, RunEntry
from dq.store.layout import RUN_JSON

#: Name prefix of the threads that read insights in the background.
READER_THREAD = "dq-reader"


def open_run(entry: RunEntry) -> Run:
    """The run of a ``list_runs`` entry, read once per version of its run.json."""
    return load_run(str(entry.path), (Path(entry.path) / RUN_JSON).stat().st_mtime)


@st.cache_resource(show_spinner=False, max_entries=8)
def load_run(path: str, mtime: float) -> Run:
    """The run at ``path`` (``mtime`` of its run.json is part of the key)."""
    return Run(path)


@st.cache_resource(show_spinner="Computing insights (once per run)...", max_entries=8)
def load_insights(path: str, content_hash: str) -> dict[str, StoredSplit]:
    """Every split's insights, their per-sample rows left in the cache's files (read by the page or
    the view that shows them); shared between sessions: never modify them in place."""
    return stored_insights(Run(path))


@st.cache_resource(show_spinner="Laying out the 2-D map (once per run and split)...", max_entries=16)
def load_map(path: str, content_hash: str, split: str) -> np.ndarray:
    """(n, 2) map coordinates of ``split``."""
    return split_map(Run(path), split)


#: Threads that read runs' insights in the background (a large run takes seconds; the page stays live).
_READERS = ThreadPoolExecutor(max_workers=2, thread_name_prefix=READER_THREAD)
_READS: dict[tuple[str, str], Future[dict[str, StoredSplit]]] = {}
_READS_LOCK = threading.Lock()


def insights_read(path: str, content_hash: str) -> Future[dict[str, StoredSplit]]:
    """The background read of a run's insights (:func:`load_insights` in a reader thread), started
    once per run for every session; a finished read is let go (the resource cache keeps its result)."""
    key = (path, content_hash)
    with _READS_LOCK:
        read = _READS.get(key)
        if read is None:
            read = _READS[key] = _READERS.submit(load_insights, path, content_hash)
        elif read.done():  # its result is in the resource cache now (or its error is raised this once)
            del _READS[key]
        return read


# A reader thread calls the cached loader outside any page run; Streamlit warns about the missing
# script context, which only matters for code that draws, and the readers draw nothing.
logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").addFilter(
    lambda record: not record.threadName.startswith(READER_THREAD)
)
