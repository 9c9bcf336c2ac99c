"""The Dataset page's table: one page of the filtered rows, highest DEP first.

Only the page's rows (:data:`PAGE_SIZE`) go to the browser, whatever the split's size: the rows are
filtered on the server (SQL over the split's cached insights file), the page's rows are found by
DEP among them and only those are read from the file, and the page number is a widget.
Clicking a cell opens its row's sample (session key ``sample_id``, shown in a side panel); ticking
rows makes them the targets of the actions below the table (session key ``ticked_ids``). The columns a
reviewer reads (DEP, text, ground truth, prediction, suggestion) come first and fit a 1400-pixel
window; flags, cart marks and ids follow.
"""

from __future__ import annotations

from functools import partial

import pandas as pd
import streamlit as st

from dq.insights.pages import PAGE_COLUMNS
from dq.insights.split_rows import RowSet, n_pages
from dq.splits import split_title
from dq_console.cart import edit_marks
from dq_console.filter_bar import mirror
from dq_console.filters import view_key
from dq_console.state import open_sample

#: Rows shown per page.
PAGE_SIZE = 50
#: Pixel height of the table: about 15 rows visible, the rest of the page scrolls inside it.
TABLE_HEIGHT = 560
#: Pixel widths of the text column (about 60 characters) and of a class column.
TEXT_PX = 380
CLASS_PX = 145
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
        width=64,
        help="Data Error Potential: higher = likelier a data error",
    ),
    "text": st.column_config.TextColumn("Text", width=TEXT_PX, help="Click a cell to open the sample"),
    "label": st.column_config.TextColumn("Ground truth", width=CLASS_PX),
    "pred": st.column_config.TextColumn("Prediction", width=CLASS_PX),
    "suggested_label": st.column_config.TextColumn(
        "Suggested", width=CLASS_PX, help="The label the evidence prefers, when confident"
    ),
    "edit": st.column_config.TextColumn(
        "In the cart", width=130, help="What the edits cart does to the sample (undo on the Edits cart page)"
    ),
    "flags": st.column_config.TextColumn("Flags", width=200),
    "id": st.column_config.TextColumn("ID", width=70),
}


def page_of(rows: RowSet, page_number: int) -> pd.DataFrame:
    """Rows of page ``page_number`` (1-based, clipped to the pages there are), highest DEP first:
    only the page's rows, and only the columns the table shows, are read from the split's file."""
    return rows.page(page_number, size=PAGE_SIZE, columns=PAGE_COLUMNS)


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
            "suggested_label": rows["suggested_label"],
            "flags": flags_text(rows),
            "id": rows["id"].astype(str),
        }
    ).reset_index(drop=True)
    if marks:  # the column takes room only when the cart holds edits of rows on this page
        frame.insert(5, "edit", [marks.get(str(i), "") for i in rows["id"]])
    return frame


def _on_select(table_key: str, ids: list, view: str) -> None:
    # Ticked rows are the actions' targets; a clicked cell (a new one) opens its row's sample.
    selection = st.session_state[table_key].selection
    st.session_state["ticked_ids"] = [ids[r] for r in selection.rows]
    cells = [tuple(c) for c in selection.get("cells", [])]
    cell = cells[-1] if cells else None
    if cell is not None and cell != st.session_state.get("table_cell"):
        open_sample(ids[cell[0]], view)
    st.session_state["table_cell"] = cell


def sample_table(rows: RowSet, *, split: str, n_split: int, active: pd.DataFrame | None = None) -> list:
    """The page of ``rows`` chosen by the page number, with the count and the page control; returns
    the ids of the ticked rows (of this page and view). ``active``: the split's active edits, shown
    in the "In the cart" column."""
    n = len(rows)
    pages = n_pages(n, PAGE_SIZE)
    st.session_state["page_number"] = min(max(int(st.session_state["page_number"]), 1), pages)
    page = page_of(rows, st.session_state["page_number"])
    first = (st.session_state["page_number"] - 1) * PAGE_SIZE
    shown = f"{first + 1:,}–{first + len(page):,}" if n else "0"
    count, control = st.columns([3, 1], vertical_alignment="bottom")
    count.caption(
        f"Showing {shown} of {n:,} samples ({n_split:,} in {split_title(split)}), highest DEP first. "
        "Click a row to open its sample; tick rows to fix them together."
    )
    control.number_input(
        f"Page (of {pages:,})", min_value=1, max_value=pages, step=1, **mirror("page_number", resets_page=False)
    )
    if not n:
        st.info("No sample matches these filters.", icon=":material/filter_alt_off:")
        return []
    frame = table_frame(page, edit_marks(active, page["id"].tolist()) if active is not None else None)
    ids = page["id"].tolist()
    view = view_key(split)
    key = f"table_{view}_{st.session_state['page_number']}"
    if st.session_state.get("ticked_key") != key:  # another view or page: nothing ticked in it yet
        st.session_state["ticked_key"], st.session_state["ticked_ids"] = key, []
        st.session_state["table_cell"] = None
    ticked = [i for i in st.session_state["ticked_ids"] if i in ids]
    # A closed panel renews the grid (its generation), so that its clicked cell is forgotten; the
    # ticks are given back to it.
    widget = f"{key}_{st.session_state.get('table_generation', 0)}"
    st.dataframe(
        frame,
        key=widget,
        height=TABLE_HEIGHT,
        hide_index=True,
        column_config=COLUMN_CONFIG,
        on_select=partial(_on_select, widget, ids, view),
        selection_mode=["multi-row", "single-cell"],
        selection_default={"selection": {"rows": [ids.index(i) for i in ticked]}} if ticked else None,
    )
    st.session_state["ticked_ids"] = ticked
    return ticked
