"""The Dataset page's table: one page of the filtered rows, highest DEP first.

Only the page's rows (:data:`PAGE_SIZE`) go to the browser, whatever the split's size: the rows are
filtered and sorted on the server, the page is cut here, and the page number is a widget.
Selecting a row opens that sample (session key ``sample_id``).
"""

from __future__ import annotations

import math
from functools import partial

import pandas as pd
import streamlit as st

from dq_console.cart import edit_marks
from dq_console.filter_bar import mirror
from dq_console.filters import view_key

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
    "dep": st.column_config.ProgressColumn(
        "DEP",
        min_value=0.0,
        max_value=1.0,
        format="%.2f",
        width=75,
        help="Data Error Potential: higher = likelier a data error",
    ),
    "text": st.column_config.TextColumn("Text", width=230),
    "label": st.column_config.TextColumn("Ground truth", width=125),
    "pred": st.column_config.TextColumn("Prediction", width=125),
    "flags": st.column_config.TextColumn("Flags", width=200),
    "suggested_label": st.column_config.TextColumn(
        "Suggested", width=150, help="The label the evidence prefers, when confident"
    ),
    "id": st.column_config.TextColumn("ID", width=70),
    "edit": st.column_config.TextColumn(
        "In the cart", width=130, help="What the edits cart does to the sample (undo on the Edits cart page)"
    ),
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


def table_frame(rows: pd.DataFrame, marks: dict[str, str] | None = None) -> pd.DataFrame:
    """What a page of the table shows: plain values only (text stays text in the grid); ``marks``
    (sample id as text -> what the edits cart does to it) fill the "In the cart" column."""
    frame = pd.DataFrame(
        {
            "dep": rows["dep"].astype(float),
            "text": rows["text"],
            "label": rows["label"],
            "pred": rows["pred"],
            "flags": flags_text(rows),
            "suggested_label": rows["suggested_label"],
            "id": rows["id"].astype(str),
        }
    ).reset_index(drop=True)
    if marks:  # the column takes room only when the cart holds edits of rows on this page
        frame.insert(4, "edit", [marks.get(str(i), "") for i in rows["id"]])
    return frame


def _on_select(table_key: str, ids: list) -> None:
    # The ticked rows are the actions' targets; the row ticked last is the sample opened below.
    before = set(st.session_state.get("ticked_ids") or [])
    ticked = [ids[r] for r in st.session_state[table_key].selection.rows]
    st.session_state["ticked_ids"] = ticked
    added = [i for i in ticked if i not in before]
    if added:
        st.session_state["sample_id"] = added[-1]
    elif st.session_state.get("sample_id") not in ticked:
        st.session_state["sample_id"] = ticked[-1] if ticked else None


def sample_table(rows: pd.DataFrame, *, split: str, n_split: int, active: pd.DataFrame | None = None) -> list:
    """The page of ``rows`` chosen by the page number, with the count and the page control; returns
    the ids of the ticked rows (of this page and view). ``active``: the split's active edits, shown
    in the "In the cart" column."""
    n = len(rows)
    pages = n_pages(n)
    st.session_state["page_number"] = min(max(int(st.session_state["page_number"]), 1), pages)
    page = page_of(rows, st.session_state["page_number"])
    first = (st.session_state["page_number"] - 1) * PAGE_SIZE
    shown = f"{first + 1:,}–{first + len(page):,}" if n else "0"
    count, control = st.columns([3, 1], vertical_alignment="bottom")
    count.caption(f"Showing {shown} of {n:,} samples ({n_split:,} in {split}), highest DEP first.")
    control.number_input(
        f"Page (of {pages:,})", min_value=1, max_value=pages, step=1, **mirror("page_number", resets_page=False)
    )
    if not n:
        st.info("No sample matches these filters.", icon=":material/filter_alt_off:")
        return []
    frame = table_frame(page, edit_marks(active, page["id"].tolist()) if active is not None else None)
    ids = page["id"].tolist()
    opened = st.session_state["sample_id"]
    key = f"table_{view_key(split)}_{st.session_state['page_number']}"
    if st.session_state.get("ticked_key") != key:  # another view or page: nothing ticked in it yet
        st.session_state["ticked_key"], st.session_state["ticked_ids"] = key, []
    ticked = [i for i in st.session_state["ticked_ids"] if i in ids]
    if not ticked and opened in ids:
        ticked = [opened]
    st.dataframe(
        frame,
        key=key,
        height=TABLE_HEIGHT,
        hide_index=True,
        column_config=COLUMN_CONFIG,
        on_select=partial(_on_select, key, ids),
        selection_mode="multi-row",
        selection_default={"selection": {"rows": [ids.index(i) for i in ticked]}} if ticked else None,
    )
    st.session_state["ticked_ids"] = ticked
    return ticked
