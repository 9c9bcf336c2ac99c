"""The Dataset page's table: one page of the filtered rows, highest DEP first.

Only the page's rows (:data:`PAGE_SIZE`) go to the browser, whatever the split's size: the rows are
filtered and sorted on the server, the page is cut here, and the page number is a widget.
Selecting a row opens that sample (session key ``sample_id``).
"""

from __future__ import annotations

import hashlib
import math
from functools import partial

import pandas as pd
import streamlit as st

from app.filter_bar import mirror
from app.state import FILTER_KEYS

#: Rows shown per page.
PAGE_SIZE = 50
#: Pixel height of the table: about 15 rows visible, the rest of the page scrolls inside it.
TABLE_HEIGHT = 560
#: Flag columns of the insights frame and their short names, most telling first.
FLAGS: tuple[tuple[str, str], ...] = (
    ("is_mislabeled", "mislabeled"),
    ("is_misclassified", "misclassified"),
    ("is_conflicting_duplicate", "conflicting duplicate"),
    ("is_near_duplicate", "duplicate"),
    ("is_out_of_coverage", "out of coverage"),
    ("is_outlier", "outlier"),
    ("is_on_boundary", "on boundary"),
)
#: How the table's columns are shown (``st.dataframe(..., column_config=...)``).
COLUMN_CONFIG = {
    "dep": st.column_config.ProgressColumn("DEP", min_value=0.0, max_value=1.0, format="%.2f", width=80,
                                           help="Data Error Potential: higher = likelier a data error"),
    "text": st.column_config.TextColumn("Text", width=330),
    "label": st.column_config.TextColumn("Ground truth", width=150),
    "pred": st.column_config.TextColumn("Prediction", width=150),
    "flags": st.column_config.TextColumn("Flags", width=200),
    "suggested_label": st.column_config.TextColumn("Suggested", width=150,
                                                   help="The label the evidence prefers, when confident"),
    "id": st.column_config.TextColumn("ID", width=70),
}


def n_pages(n_rows: int) -> int:
    """Pages needed for ``n_rows`` rows (at least one, empty or not)."""
    return max(1, math.ceil(n_rows / PAGE_SIZE))


def page_of(rows: pd.DataFrame, page_number: int) -> pd.DataFrame:
    """Rows of page ``page_number`` (1-based, clipped to the pages there are)."""
    page = min(max(int(page_number), 1), n_pages(len(rows)))
    return rows.iloc[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]


def flags_text(rows: pd.DataFrame) -> pd.Series:
    """The raised flags of each row as ``"mislabeled · duplicate"`` ("" when none)."""
    parts = [rows[column].map({True: name, False: ""}).fillna("") for column, name in FLAGS if column in rows]
    if not parts:
        return pd.Series("", index=rows.index)
    joined = pd.concat(parts, axis=1).apply(lambda r: " · ".join(v for v in r if v), axis=1)
    return joined.astype(str)


def table_frame(rows: pd.DataFrame) -> pd.DataFrame:
    """What a page of the table shows: plain values only (text stays text in the grid)."""
    return pd.DataFrame({
        "dep": rows["dep"].astype(float),
        "text": rows["text"],
        "label": rows["label"],
        "pred": rows["pred"],
        "flags": flags_text(rows),
        "suggested_label": rows["suggested_label"],
        "id": rows["id"].astype(str),
    }).reset_index(drop=True)


def view_signature(split: str) -> str:
    """A short hash of the split and filters: widgets keyed on it start afresh when they change."""
    s = st.session_state
    ids = s.get("selected_ids")
    parts = [split, *(repr(s[k]) for k in FILTER_KEYS), "-" if ids is None else f"{len(ids)}:{list(ids)[:5]}"]
    return hashlib.sha1("\x1f".join(parts).encode()).hexdigest()[:10]


def _open_selected(table_key: str, ids: list) -> None:
    rows = st.session_state[table_key].selection.rows
    st.session_state["sample_id"] = ids[rows[0]] if rows else None


def sample_table(rows: pd.DataFrame, *, split: str, n_split: int) -> None:
    """The page of ``rows`` chosen by the page number, with the count and the page control."""
    n = len(rows)
    pages = n_pages(n)
    st.session_state["page_number"] = min(max(int(st.session_state["page_number"]), 1), pages)
    page = page_of(rows, st.session_state["page_number"])
    first = (st.session_state["page_number"] - 1) * PAGE_SIZE
    shown = f"{first + 1:,}–{first + len(page):,}" if n else "0"
    count, control = st.columns([3, 1], vertical_alignment="bottom")
    count.caption(f"Showing {shown} of {n:,} samples ({n_split:,} in {split}), highest DEP first.")
    control.number_input(f"Page (of {pages:,})", min_value=1, max_value=pages, step=1,
                         **mirror("page_number", resets_page=False))
    if not n:
        st.info("No sample matches these filters.", icon=":material/filter_alt_off:")
        return
    frame = table_frame(page)
    ids = page["id"].tolist()
    opened = st.session_state["sample_id"]
    key = f"table_{view_signature(split)}_{st.session_state['page_number']}"
    st.dataframe(
        frame, key=key, height=TABLE_HEIGHT, hide_index=True, column_config=COLUMN_CONFIG,
        on_select=partial(_open_selected, key, ids), selection_mode="single-row",
        selection_default={"selection": {"rows": [ids.index(opened)]}} if opened in ids else None,
    )
