"""While a run's cached insights are read (seconds at millions of samples): a page that says so and
follows it, and on the Dataset page the first page of the table, the likeliest data errors, read
straight from the cached Parquet file (``dq.insights.pages``, DuckDB).

The table appears as soon as DuckDB has the rows, whatever the split's size; filters, clicks and
fixes come with the whole run, and the page then reruns by itself.
"""

from __future__ import annotations

import time
from concurrent.futures import Future
from typing import Any

import pandas as pd
import streamlit as st

from dq.insights import StoredSplit
from dq.insights.pages import first_rows
from dq.splits import split_title
from dq.store import Run
from dq_console.state import FILTER_KEYS, URL_KEYS
from dq_console.table import COLUMN_CONFIG, PAGE_SIZE, TABLE_HEIGHT, table_frame

#: Seconds a page waits for the read before it draws the preview instead; a split of at least
#: ``PREVIEW_AT_ONCE_ROWS`` rows gets the preview at once. The read checks the cached file's
#: digest and runs the alerts' queries (1.3 s at 5M rows in a warm process; on a server that
#: has just started, its first page waited 6.2 s for it at 5M, where the preview showed the table
#: at 4 s).
PREVIEW_AFTER_S = 0.5
PREVIEW_AT_ONCE_ROWS = 1_000_000


def filters_at_defaults(state: Any = None) -> bool:
    """Whether the view is the whole split (no filter, alert or map selection): what the preview shows."""
    s = state if state is not None else st.session_state
    unchanged = all(s.get(key) == URL_KEYS[key] for key in FILTER_KEYS)
    return unchanged and s.get("selected_ids") is None


@st.cache_data(show_spinner=False, max_entries=8)
def preview_rows(path: str, content_hash: str, split: str) -> pd.DataFrame | None:
    """The first page of ``split``'s table from its cached insights on disk, or None (not cached)."""
    return first_rows(Run(path), split, limit=PAGE_SIZE)


def while_reading(run: Run, split: str, read: Future[dict[str, StoredSplit]], *, table: bool) -> None:
    """Draw what the page can show before ``read`` is done (``table``: the first page of the table)
    and rerun the whole page once it is."""
    n = run.n_samples(split)
    rows = preview_rows(str(run.path), run.content_hash, split) if table and filters_at_defaults() else None
    if rows is None:
        st.info(
            f"Reading the insights of {run.project}/{run.name} ({n:,} samples in {split_title(split)}); the page "
            "opens when they are in.",
            icon=":material/hourglass_top:",
        )
    else:
        st.title("Dataset")
        st.caption(
            f"The {len(rows):,} likeliest data errors of {n:,} samples ({split_title(split)}), highest DEP first, "
            "read from the cached insights while the rest of the run loads: filters, clicks and fixes in a moment."
        )
        st.dataframe(table_frame(rows), height=TABLE_HEIGHT, hide_index=True, column_config=COLUMN_CONFIG)
    _rerun_when_done(read)


@st.fragment(run_every=0.5)
def _rerun_when_done(read: Future[dict[str, StoredSplit]]) -> None:
    if read.done():
        st.rerun()
    started = st.session_state.setdefault("reading_since", time.monotonic())
    st.caption(f"Loading the run: {time.monotonic() - started:.0f} s")
