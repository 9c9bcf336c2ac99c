"""Fixing data from the Dataset page: actions on the ticked rows or on every row the filters match,
and on the opened sample. Each action goes to the edits cart (SQLite) as one undoable batch.

Texts reach the page as text: previews of find & replace are table cells, never markdown.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import pandas as pd
import streamlit as st

from dq.edits import Change, actions
from dq.edits.export import dataset_bytes
from dq.errors import ValidationError
from dq.insights.split_rows import RowSet, SplitRows
from dq.store import Run
from dq_console import cart
from dq_console.filter_bar import escape_markdown
from dq_console.text import plural

#: What the actions can target.
TARGET_TICKED = "ticked"
TARGET_FILTERED = "filtered"
#: The actions of the panel, in order.
ACTIONS = ("Change label", "Remove", "Find & replace", "Send to labelers", "Export")
#: Rows of the find & replace preview shown.
PREVIEW_ROWS = 20
PREVIEW_CONFIG = {
    "id": st.column_config.TextColumn("ID", width=70),
    "old": st.column_config.TextColumn("Text now", width="large"),
    "new": st.column_config.TextColumn("Text after", width="large"),
}
#: Relabel targets besides the class names.
TO_SUGGESTED = "The suggested label"
TO_PREDICTION = "The prediction"
_SPECIAL_TARGETS = {TO_SUGGESTED: actions.SUGGESTED, TO_PREDICTION: actions.PREDICTION}
#: Columns of the insights frame an export of rows carries (probabilities stay out: one per class).
EXPORT_COLUMNS = (
    "id",
    "text",
    "label",
    "pred",
    "dep",
    "is_mislabeled",
    "suggested_label",
    "is_misclassified",
    "cluster",
)


def _act(
    run: Run,
    split: str,
    build: Callable[[pd.DataFrame], list[Change]],
    done: str,
    on_done: Callable[[], None] | None = None,
) -> None:
    """Button callback: build the changes against the cart's current values and store them (before
    the page reruns, so the rerun shows them); a refused change is shown, not stored. ``on_done``
    runs after the changes are stored."""
    try:
        changes = build(cart.current(run, split))
    except ValidationError as exc:
        st.session_state["act_error"] = str(exc)
        return
    cart.add_changes(run, split, changes, done=done)
    if on_done is not None:
        on_done()


def _show_error() -> None:
    message = st.session_state.pop("act_error", None)
    if message:
        st.error(message, icon=":material/error:")


def actions_panel(run: Run, split: str, rows: RowSet, ticked: list[Any]) -> None:
    """The "Fix" panel under the table: choose the samples, then an action."""
    with st.container(border=True):
        st.markdown("**Fix these samples** — every action goes to the Edits cart, where it can be undone")
        options = {
            TARGET_TICKED: f"Ticked rows ({len(ticked):,})",
            TARGET_FILTERED: f"All {len(rows):,} matching the filters",
        }
        target = st.segmented_control(
            "Act on", list(options), format_func=options.get, required=True, key="act_target", default=TARGET_TICKED
        )
        action = st.segmented_control("Action", ACTIONS, key="act_action", default=None)
        if action is None:  # the controls of an action only once one is chosen: a lighter page to open
            st.caption("Choose an action; it applies to the samples chosen above.")
            return
        ids = list(ticked) if target == TARGET_TICKED else rows.ids.tolist()
        if not ids:
            st.caption("Tick rows in the table (the box left of each row), or act on all the rows the filters match.")
            return
        if action == "Change label":
            _relabel(run, split, rows.samples, ids)
        elif action == "Remove":
            _remove(run, split, ids)
        elif action == "Find & replace":
            _find_replace(run, split, ids)
        elif action == "Send to labelers":
            _send(run, split, ids)
        else:
            _export(run, split, rows, ids)


def _relabel(run: Run, split: str, samples: SplitRows, ids: list[Any]) -> None:
    choice, button = st.columns([3, 2], vertical_alignment="bottom")
    choice.selectbox(
        "New label",
        [TO_SUGGESTED, TO_PREDICTION, *run.labels],
        key="act_relabel_to",
        help="The suggested label exists only where the evidence is confident; "
        "samples without one are left as they are.",
    )
    build = partial(_relabel_changes, ids=ids, samples=samples)
    button.button(
        f"Relabel {plural(len(ids), 'sample')}",
        key="act_relabel",
        icon=":material/label:",
        type="primary",
        on_click=_act,
        args=(run, split, build, "Relabeled"),
    )
    _show_error()


def _relabel_changes(current: pd.DataFrame, *, ids: list[Any], samples: SplitRows) -> list[Change]:
    # The target is read when the button is clicked, not when it was drawn; the insights of the
    # chosen samples only are read then.
    to = st.session_state["act_relabel_to"]
    insights = samples.take(samples.positions_of(ids), ["id", "pred", "suggested_label"])
    return actions.relabel(current, ids, to=_SPECIAL_TARGETS.get(to, to), insights=insights)


def _remove(run: Run, split: str, ids: list[Any]) -> None:
    st.caption("Removed samples are left out of the fixed dataset (the run itself never changes).")
    st.button(
        f"Remove {plural(len(ids), 'sample')}",
        key="act_remove",
        icon=":material/delete:",
        type="primary",
        on_click=_act,
        args=(run, split, partial(_ids_action, actions.remove, ids), "Removed"),
    )


def _send(run: Run, split: str, ids: list[Any]) -> None:
    st.caption(
        "Marks the samples for human review; the Edits cart page downloads them as a Label Studio import file or a CSV."
    )
    st.button(
        f"Send {plural(len(ids), 'sample')} to labelers",
        key="act_send",
        icon=":material/group:",
        type="primary",
        on_click=_act,
        args=(run, split, partial(_ids_action, actions.send_to_labelers, ids), "Sent to labelers:"),
    )


def _ids_action(
    action: Callable[[pd.DataFrame, list[Any]], list[Change]], ids: list[Any], current: pd.DataFrame
) -> list[Change]:
    return action(current, ids)


def _find_replace(run: Run, split: str, ids: list[Any]) -> None:
    find_col, replace_col = st.columns(2)
    find = find_col.text_input("Find", key="act_find")
    replace = replace_col.text_input("Replace with", key="act_replace")
    regex = st.toggle("Regular expression (the replacement may use \\1, \\2 ...)", key="act_find_regex")
    if not find:
        st.caption("Type what to find; a preview of the changed texts follows.")
        return
    try:
        changes = actions.find_replace(cart.current(run, split), ids, find, replace, regex=regex)
    except ValidationError as exc:
        st.error(str(exc), icon=":material/error:")
        return
    if not changes:
        st.caption(f"No text among these {plural(len(ids), 'sample')} changes.")
        return
    st.caption(
        f"Preview: {plural(len(changes), 'text')} change"
        f"{'' if len(changes) == 1 else ' (the first ' + str(min(PREVIEW_ROWS, len(changes))) + ' shown)'}."
    )
    preview = pd.DataFrame(
        {
            "id": [c.sample_id for c in changes[:PREVIEW_ROWS]],
            "old": [c.old_value for c in changes[:PREVIEW_ROWS]],
            "new": [c.new_value for c in changes[:PREVIEW_ROWS]],
        }
    )
    st.dataframe(preview, hide_index=True, column_config=PREVIEW_CONFIG)
    st.button(
        f"Replace in {plural(len(changes), 'text')}",
        key="act_replace_go",
        icon=":material/find_replace:",
        type="primary",
        on_click=_act,
        args=(run, split, lambda _current: changes, "Edited the text of"),
    )


def _chosen_bytes(samples: SplitRows, ids: list[Any], columns: list[str], fmt: str) -> bytes:
    """The export of the samples ``ids`` (in the split's order) with ``columns``, read when clicked."""
    return dataset_bytes(samples.take(samples.positions_of(ids), columns).reset_index(drop=True), fmt)


def _export(run: Run, split: str, rows: RowSet, ids: list[Any]) -> None:
    columns = [c for c in EXPORT_COLUMNS if c in rows.samples.columns]
    st.caption(
        f"Downloads the {plural(len(ids), 'sample')} with their insights ({', '.join(columns)}), as shown "
        "(before the cart's edits). The fixed dataset is on the Edits cart page."
    )
    name = f"{run.name}-{split}-samples"
    for column, (fmt, mime) in zip(st.columns(2), (("csv", "text/csv"), ("jsonl", "application/jsonl"))):
        column.download_button(
            f"Download {fmt.upper()}",
            partial(_chosen_bytes, rows.samples, ids, columns, fmt),
            file_name=f"{name}.{fmt}",
            mime=mime,
            icon=":material/download:",
            on_click="ignore",
            key=f"act_export_{fmt}",
        )


def sample_actions(
    run: Run,
    split: str,
    sample: pd.Series,
    mark: str | None,
    text_now: str,
    *,
    on_done: Callable[[], None] | None = None,
) -> None:
    """Fix the opened sample: relabel, remove, send to labelers, edit its text (``text_now``: the
    text with the cart's edit, if any); ``on_done`` runs after a fix is stored."""
    sample_id = sample["id"]
    st.markdown("**Fix this sample**")
    if mark:
        st.caption(f"In the edits cart: {escape_markdown(mark)}")
    suggested = sample.get("suggested_label")
    default = run.labels.index(suggested) if isinstance(suggested, str) and suggested in run.labels else None
    label_col, relabel_col, remove_col, send_col = st.columns([3, 2, 2, 2], vertical_alignment="bottom")
    to_key = f"sample_relabel_to_{sample_id}"
    to = label_col.selectbox("Relabel to", run.labels, index=default, placeholder="Choose a label", key=to_key)
    relabel_col.button(
        "Relabel",
        key="sample_relabel",
        icon=":material/label:",
        disabled=to is None,
        on_click=_act,
        args=(run, split, partial(_relabel_one, sample_id, to_key), "Relabeled", on_done),
    )
    remove_col.button(
        "Remove",
        key="sample_remove",
        icon=":material/delete:",
        on_click=_act,
        args=(run, split, partial(_ids_action, actions.remove, [sample_id]), "Removed", on_done),
    )
    send_col.button(
        "To labelers",
        key="sample_send",
        icon=":material/group:",
        on_click=_act,
        args=(run, split, partial(_ids_action, actions.send_to_labelers, [sample_id]), "Sent to labelers:", on_done),
    )
    with st.expander("Edit the text"):
        text_key = f"sample_text_{sample_id}"
        st.text_area("Text", value=text_now, key=text_key, height=120)
        st.button(
            "Save the text",
            key="sample_text_save",
            icon=":material/save:",
            on_click=_act,
            args=(run, split, partial(_edit_text, sample_id, text_key), "Edited the text of", on_done),
        )
    _show_error()


def _relabel_one(sample_id: Any, to_key: str, current: pd.DataFrame) -> list[Change]:
    return actions.relabel(current, [sample_id], to=st.session_state[to_key])


def _edit_text(sample_id: Any, text_key: str, current: pd.DataFrame) -> list[Change]:
    return actions.edit_text(current, sample_id, st.session_state[text_key])
