"""The edits cart as the console uses it: who is editing, the active edits of a split, adding changes.

The cart lives in SQLite (``dq.edits.EditsCart``, one connection per operation), so every browser
session and every page sees the same edits at once; nothing about it is kept in session state but
the last action's batch id (for "Undo last action").
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from dq.edits import Change, EditsCart, current_samples, run_key
from dq.edits.model import EDIT_TEXT, RELABEL, REMOVE, SEND_TO_LABELERS
from dq.errors import AccessDenied
from dq.store import Run
from dq_console.filter_bar import escape_markdown
from dq_console.state import notify
from dq_console.team import author
from dq_console.text import plural

#: How each action reads in the console.
ACTION_NAMES = {RELABEL: "relabel", REMOVE: "remove", EDIT_TEXT: "edit text", SEND_TO_LABELERS: "send to labelers"}
#: What an action did to a sample, told to another user.
DONE_TO_IT = {REMOVE: "removed it", EDIT_TEXT: "edited its text", SEND_TO_LABELERS: "sent it to labelers"}
#: How a sample's table row marks what the cart does to it (a relabel shows its new label).
MARKS = {REMOVE: "removed", EDIT_TEXT: "text edited", SEND_TO_LABELERS: "to labelers"}


def active_edits(run: Run, split: str) -> pd.DataFrame:
    """The effective edits of ``split`` (one row per sample and field, the latest not undone); read
    again only when the cart's version of the split moved (a large cart costs a second to read).
    Shared between sessions: never modify it in place."""
    cart = EditsCart()
    key = run_key(run)
    return _active(str(cart.path), key, split, cart.version(key, split))


@st.cache_resource(show_spinner=False, max_entries=16)
def _active(db: str, key: str, split: str, version: tuple[int, int]) -> pd.DataFrame:
    return EditsCart(Path(db)).active(key, split)


def current(run: Run, split: str) -> pd.DataFrame:
    """The split's samples as the cart has them now (labels and texts edited, removed marked); kept
    until the cart's version moves, so a find & replace preview does not read the split per keystroke.
    Shared between sessions: never modify it in place."""
    cart = EditsCart()
    key = run_key(run)
    return _current(str(run.path), run.content_hash, str(cart.path), key, split, cart.version(key, split))


@st.cache_resource(show_spinner=False, max_entries=4)
def _current(path: str, content_hash: str, db: str, key: str, split: str, version: tuple[int, int]) -> pd.DataFrame:
    return current_samples(Run(path), split, _active(db, key, split, version))


def add_changes(run: Run, split: str, changes: list[Change], *, done: str) -> None:
    """Store ``changes`` as one action and say so in a toast (``done``: "Relabeled", ...)."""
    if not changes:
        notify("Nothing to change: the samples already hold that value.", icon=":material/info:")
        return
    try:
        batch = EditsCart().add(run, split, changes, author=author())
    except AccessDenied as exc:  # the role changed since the page was drawn: the library said no
        notify(str(exc), icon=":material/block:")
        return
    st.session_state["last_batch"] = batch
    notify(
        f"{done} {plural(len(changes), 'sample')}. The Edits cart page lists it, with undo.",
        icon=":material/shopping_cart:",
    )


def others_changes(edits: pd.DataFrame, me: str) -> list[str]:
    """One line per active edit of a sample made by someone other than ``me`` (who, what, when),
    escaped for markdown: a shared cart says who changed a sample under another user's eyes."""
    lines = []
    for action, value, who, when in zip(edits["action"], edits["new_value"], edits["author"], edits["created_at"]):
        if str(who) == me:
            continue
        what = f"relabeled it to {value}" if action == RELABEL else DONE_TO_IT[action]
        stamp = pd.Timestamp(when).strftime("%Y-%m-%d %H:%M UTC")
        lines.append(escape_markdown(f"{who} {what} on {stamp}."))
    return lines


def edit_marks(active: pd.DataFrame, ids: list | None = None) -> dict[str, str]:
    """Per sample id (as text), what the cart does to it: ``"→ new label · text edited"``; only for
    ``ids`` when given (a page of the table, not every edit of a large cart)."""
    if ids is not None:
        active = active[active["sample_id"].isin([str(i) for i in ids])]
    marks: dict[str, list[str]] = {}
    for sample_id, action, value in zip(active["sample_id"], active["action"], active["new_value"]):
        marks.setdefault(str(sample_id), []).append(f"→ {value}" if action == RELABEL else MARKS[action])
    return {key: " · ".join(parts) for key, parts in marks.items()}
