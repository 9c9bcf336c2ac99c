"""The Edits cart page's pieces: counts, the edit list with undo (filterable by author), the downloads.

Downloads are built only when their button is clicked (``st.download_button`` with a callable), and a
click does not rerun the page: that rerun is wasted work on a large run, and it raced the file's request.
Retrain & compare is in ``dq_console.retrain_view``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from functools import partial, wraps
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from dq.edits import EditsCart, fix, fix_all, labelers_frame, run_key
from dq.edits.export import dataset_bytes, label_studio_bytes, labelers_csv_bytes
from dq.edits.model import ACTIONS, SEND_TO_LABELERS
from dq.errors import AccessDenied
from dq.insights import InsightSettings, stored_insights
from dq.insights.split_rows import SplitRows
from dq.store import Run
from dq_console.cart import ACTION_NAMES, active_edits
from dq_console.state import notify
from dq_console.team import author, may_edit
from dq_console.text import plural

#: Strictness values offered for the auto-fix (the insights' default first among equals).
DEFAULT_STRICTNESS = InsightSettings().mislabel_strictness
STRICTNESS_STEPS = sorted({0.0, 0.1, 0.2, DEFAULT_STRICTNESS, 0.5, 0.7, 1.0})
#: Download formats of the fixed dataset: label -> (format for dataset_bytes, extension, MIME type).
FORMATS = {
    "CSV": ("csv", "csv", "text/csv"),
    "Parquet": ("parquet", "parquet", "application/octet-stream"),
    "JSONL": ("jsonl", "jsonl", "application/jsonl"),
}
#: Auto-fix choices of the download: label -> mode.
AUTO_FIX = {
    "Only the cart's edits": None,
    "Also relabel every likely-mislabeled sample to its suggestion": "relabel",
    "Also remove every likely-mislabeled sample": "remove",
}
HISTORY_CONFIG = {
    "created_at": st.column_config.DatetimeColumn("When (UTC)", format="YYYY-MM-DD HH:mm:ss", width=150),
    "action": st.column_config.TextColumn("Action", width=110),
    "sample_id": st.column_config.TextColumn("Sample", width=70),
    "text": st.column_config.TextColumn("Text (as logged)", width="medium"),
    "old_value": st.column_config.TextColumn("Before", width="medium"),
    "new_value": st.column_config.TextColumn("After", width="medium"),
    "author": st.column_config.TextColumn("Author", width=160),
    "status": st.column_config.TextColumn(
        "Status", width=100, help="active · superseded (a later edit of the same sample wins) · undone"
    ),
}
#: Rows of the edit list drawn at most (the counts above it cover all).
HISTORY_ROWS = 2000


def counts_row(run: Run, split: str) -> dict[str, int]:
    """One metric per action: how many samples of ``split`` it is active on."""
    counts = EditsCart().counts(run_key(run), split)
    for column, action in zip(st.columns(len(ACTIONS)), ACTIONS):
        column.metric(ACTION_NAMES[action].capitalize(), f"{counts[action]:,}", border=True)
    return counts


def history_with_status(run: Run, split: str, samples: SplitRows) -> pd.DataFrame:
    """Every edit of ``split``, newest first, with its status (active, superseded, undone) and the
    sample's text as the run has it (read for the edited samples only)."""
    history = EditsCart().history(run_key(run), split)
    active = history["edit_id"].isin(active_edits(run, split)["edit_id"])
    status = np.where(history["undone_at"].notna(), "undone", np.where(active, "active", "superseded"))
    edited = samples.take(samples.positions_of(history["sample_id"].unique(), as_text=True), ["id", "text"])
    texts = pd.Series(edited["text"].to_numpy(), index=edited["id"].astype(str).to_numpy())
    return history.assign(
        status=status,
        action=history["action"].map(ACTION_NAMES),
        created_at=pd.to_datetime(history["created_at"], utc=True, format="ISO8601"),
        text=texts.reindex(history["sample_id"].to_numpy()).to_numpy(),
        old_value=history["old_value"].fillna(""),
        new_value=history["new_value"].fillna(""),
    )


def _refused(undo: Callable[[], None]) -> Callable[[], None]:
    """An undo callback that shows the library's refusal (a role taken back meanwhile) instead of failing."""

    @wraps(undo)
    def checked(*args: Any) -> None:
        try:
            undo(*args)
        except AccessDenied as exc:
            notify(str(exc), icon=":material/block:")

    return checked


@_refused
def _undo_last() -> None:
    batch = st.session_state.get("last_batch")
    if batch:
        n = EditsCart().undo_batch(batch, author=author())
        st.session_state["last_batch"] = None
        notify(f"Undid your last action ({plural(n, 'edit')}).", icon=":material/undo:")


@_refused
def _undo_all(key: str, split: str) -> None:
    n = EditsCart().undo_all(key, split, author=author())
    st.session_state["last_batch"] = None
    notify(f"Undid {n:,} edits of {split}.", icon=":material/undo:")


@_refused
def _undo_rows(table_key: str, edit_ids: list[int]) -> None:
    cart = EditsCart()
    # The positions refer to the list the user saw when ticking: ``edit_ids`` is that list.
    chosen = [edit_ids[r] for r in st.session_state[table_key].selection.rows if r < len(edit_ids)]
    for edit_id in chosen:
        cart.undo(edit_id, author=author())
    notify(f"Undid {plural(len(chosen), 'edit')}.", icon=":material/undo:")


def undo_bar(run: Run, split: str, n_active: int) -> None:
    """Undo this session's last action, or every edit of the split (after a confirmation)."""
    last, everything = st.columns(2)
    last.button(
        "Undo my last action",
        icon=":material/undo:",
        on_click=_undo_last,
        key="undo_last",
        disabled=not st.session_state.get("last_batch"),
    )
    with everything.popover("Undo all edits of this split", icon=":material/delete_sweep:", disabled=not n_active):
        st.write(f"Undo every active edit of {split}? They stay in the history, marked undone.")
        st.button("Yes, undo all", type="primary", on_click=_undo_all, args=(run_key(run), split), key="undo_all")


def edit_list(run: Run, split: str, samples: SplitRows) -> None:
    """The edits, filterable; ticking active ones and pressing Undo undoes exactly those."""
    history = history_with_status(run, split, samples)
    editable = may_edit(run.project)
    if history.empty:
        st.info(
            "The cart is empty. On the Dataset page, tick rows or filter them, then relabel, remove, edit "
            "or send them to labelers.",
            icon=":material/shopping_cart:",
        )
        return
    names = [ACTION_NAMES[a] for a in ACTIONS]
    pick, status_col, author_col, search_col = st.columns([2, 2, 2, 2])
    chosen = pick.multiselect("Action", names, placeholder="Any action", key="cart_actions")
    statuses = status_col.multiselect(
        "Status", ["active", "superseded", "undone"], default=["active", "superseded"], key="cart_status"
    )
    authors = author_col.multiselect(
        "Author", sorted(history["author"].unique()), placeholder="Anyone", key="cart_authors"
    )
    query = search_col.text_input("Sample id", placeholder="exact id", key="cart_sample")
    shown = history
    if chosen:
        shown = shown[shown["action"].isin(chosen)]
    if authors:
        shown = shown[shown["author"].isin(authors)]
    if statuses:
        shown = shown[shown["status"].isin(statuses)]
    if query:
        shown = shown[shown["sample_id"] == query.strip()]
    st.caption(
        f"{len(shown):,} of {len(history):,} edits of {split}, newest first"
        + (f" (the first {HISTORY_ROWS:,} shown)" if len(shown) > HISTORY_ROWS else "")
        + (". Tick edits to undo them." if editable else ".")
    )
    shown = shown.head(HISTORY_ROWS)
    # Streamlit keeps a table's ticks as row positions under its key. Keyed by the edits listed (and
    # their status), the table starts unticked whenever the list changes, e.g. after an undo: a
    # tick never slides onto an edit the user did not choose.
    listed = tuple(zip(shown["edit_id"].astype(int), shown["status"]))
    key = f"cart_list_{hash((listed, tuple(chosen), tuple(statuses), tuple(authors), query))}"
    # Who comes right after when: in a shared cart it is the first thing asked (and the table's right
    # edge is past a 1400-pixel window).
    columns = ["created_at", "author", "action", "sample_id", "text", "old_value", "new_value", "status"]
    selection = st.dataframe(
        shown[columns],
        hide_index=True,
        column_config=HISTORY_CONFIG,
        key=key,
        on_select="rerun" if editable else "ignore",
        selection_mode="multi-row",
        height=min(420, 38 + 35 * len(shown)),
    )
    if not editable:
        return
    ticked = [int(shown["edit_id"].iloc[r]) for r in selection.selection.rows if r < len(shown)]
    st.button(
        f"Undo {plural(len(ticked), 'ticked edit')}",
        icon=":material/undo:",
        disabled=not ticked,
        key="undo_ticked",
        on_click=_undo_rows,
        args=(key, shown["edit_id"].astype(int).tolist()),
    )


def fixed_bytes(run: Run, split: str, mode: str | None, fmt: str, insights: pd.DataFrame | None = None) -> bytes:
    """The file the "Download fixed" button serves: ``split`` with the cart's edits (and the auto-fix
    ``mode`` over ``insights``' likely-mislabeled samples, None: the split's default insights) in ``fmt``."""
    return dataset_bytes(fixed_frame(run, split, mode, insights), fmt)


def fixed_frame(run: Run, split: str, mode: str | None, insights: pd.DataFrame | None = None) -> pd.DataFrame:
    """``split`` with the cart's edits and the auto-fix ``mode`` over ``insights``' likely-mislabeled
    samples (None: those of the split's default insights, read for the flagged rows only)."""
    if mode is not None and insights is None:
        insights = _insights_at(str(run.path), run.content_hash, split, DEFAULT_STRICTNESS)
    return fix(run, split, auto_fix=mode, insights=insights).frame


def fixed_all_bytes(run: Run, mode: str | None, fmt: str, strictness: float | None) -> bytes:
    """The "all splits" download: every split fixed in one file, the input file's split values kept
    (``dq export --split all``); an auto-fix at ``strictness`` (None: the default) in every split."""
    insights = None
    if mode is not None:
        at = DEFAULT_STRICTNESS if strictness is None else strictness
        insights = {s: _insights_at(str(run.path), run.content_hash, s, at) for s in run.splits}
    return dataset_bytes(fix_all(run, auto_fix=mode, insights=insights).frame, fmt)


@st.cache_resource(show_spinner="Finding the likely-mislabeled samples at this strictness (once)...", max_entries=8)
def _insights_at(path: str, content_hash: str, split: str, strictness: float) -> pd.DataFrame:
    """The likely-mislabeled samples of ``split`` at ``strictness`` (id, label, flag, suggested
    label): all an auto-fix reads, without the split's frame."""
    settings = replace(InsightSettings(), mislabel_strictness=strictness)
    samples = stored_insights(Run(path), settings=settings)[split].samples
    return samples.select({"is_mislabeled": True}).frame(["id", "label", "is_mislabeled", "suggested_label"])


def auto_fix_choice(run: Run, split: str, *, key: str, label: str) -> tuple[str | None, pd.DataFrame | None]:
    """The auto-fix radio and, when an auto-fix is chosen, its strictness; returns the mode and the
    insights frame whose likely-mislabeled samples it fixes (None: the split's default insights)."""
    choice = st.radio(
        label,
        list(AUTO_FIX),
        key=key,
        help="On top of the cart: the tool's recommendation for the likely-mislabeled samples the "
        "cart does not touch (your edits win). Same as `dq export --auto-fix`.",
    )
    mode = AUTO_FIX[choice]
    if mode is None:
        return None, None
    strictness = st.select_slider(
        "Strictness",
        STRICTNESS_STEPS,
        value=DEFAULT_STRICTNESS,
        key=f"{key}_strictness",
        help="Which samples count as likely mislabeled: 0 fixes as many as the estimated label errors, 1 half as "
        "many. On BANKING77 with 10% noise, relabelling at 0 recovered the most test accuracy "
        "(docs/benchmarks.md, 'fix').",
    )
    if strictness == DEFAULT_STRICTNESS:
        return mode, None
    return mode, _insights_at(str(run.path), run.content_hash, split, float(strictness))


def review_insights(run: Run, split: str, samples: SplitRows, *, include_flagged: bool) -> pd.DataFrame:
    """The insights ``labelers_frame`` reads (id, suggested label, DEP, flag) of the samples it can
    list: those the cart sends to labelers and, with ``include_flagged``, the likely mislabeled."""
    active = active_edits(run, split)
    sent = samples.positions_of(active.loc[active["action"] == SEND_TO_LABELERS, "sample_id"], as_text=True)
    flagged = samples.select({"is_mislabeled": True}).positions if include_flagged else sent[:0]
    return samples.take(np.union1d(sent, flagged), ["id", "suggested_label", "dep", "is_mislabeled"])


def downloads(run: Run, split: str, samples: SplitRows) -> None:
    """The fixed dataset (original columns, edits applied) and the files for labelers."""
    st.subheader("Download the fixed dataset")
    st.caption(
        "The split's original columns with the cart's edits applied: removed rows dropped, labels and "
        "texts changed. Built when you click."
    )
    fmt_col, fix_col = st.columns([1, 3])
    label = fmt_col.radio("Format", list(FORMATS), horizontal=True, key="cart_format")
    with fix_col:
        mode, flagged_at = auto_fix_choice(run, split, key="cart_autofix", label="Auto-fix")
    fmt, ext, mime = FORMATS[label]
    suffix = "" if mode is None else f"-autofix-{mode}"
    st.download_button(
        f"Download fixed {split} ({label})",
        partial(fixed_bytes, run, split, mode, fmt, flagged_at),
        file_name=f"{run.name}-{split}-fixed{suffix}.{ext}",
        mime=mime,
        type="primary",
        icon=":material/download:",
        on_click="ignore",
        key="download_fixed",
    )
    if len(run.splits) > 1:
        custom = st.session_state.get("cart_autofix_strictness")
        strictness = None if mode is None or custom in (None, DEFAULT_STRICTNESS) else float(custom)
        st.download_button(
            f"Download fixed, all {len(run.splits)} splits in one file ({label})",
            partial(fixed_all_bytes, run, mode, fmt, strictness),
            file_name=f"{run.name}-all-fixed{suffix}.{ext}",
            mime=mime,
            icon=":material/download:",
            on_click="ignore",
            key="download_fixed_all",
            help="A drop-in replacement for the input file: every split, with a split column (for dq auto runs, "
            "the file's own split values). Same as `dq export RUN --split all`.",
        )

    st.subheader("Send to labelers")
    flagged = st.toggle(
        "Also every likely-mislabeled sample",
        key="cart_labelers_all",
        help="Besides the samples sent to labelers from the Dataset page.",
    )
    review = review_insights(run, split, samples, include_flagged=flagged)
    rows = labelers_frame(run, split, include_flagged=flagged, insights=review)
    st.caption(
        f"{len(rows):,} samples for review: a Label Studio import file (the current label as a "
        "prediction, scored by DEP) or a plain CSV (id, text, label, suggested label, DEP)."
    )
    left, right = st.columns(2)
    left.download_button(
        "Label Studio tasks (JSON)",
        partial(label_studio_bytes, rows, class_names=list(run.labels)),
        file_name=f"{run.name}-{split}-label-studio.json",
        mime="application/json",
        icon=":material/download:",
        on_click="ignore",
        disabled=rows.empty,
        key="download_ls",
    )
    right.download_button(
        "CSV for any tool",
        partial(labelers_csv_bytes, rows),
        file_name=f"{run.name}-{split}-labelers.csv",
        mime="text/csv",
        icon=":material/download:",
        on_click="ignore",
        disabled=rows.empty,
        key="download_labelers_csv",
    )
