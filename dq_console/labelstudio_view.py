"""The Edits cart page's "Label Studio": send the samples marked for labelers to a Label Studio
server as tasks, and pull the annotators' labels back into the cart (dq.edits.labelstudio).

The server and its key come from the environment or the ``[label_studio]`` section of the auth
config ``dq serve`` was given (Streamlit's secrets), never from the page: a visitor cannot point
the console, and its key, at another server.
"""

from __future__ import annotations

import os
from typing import Any

import streamlit as st

from dq.edits import EditsCart
from dq.edits.apply import labelers_frame
from dq.edits.labelstudio import (
    KEY_ENV,
    SECTION,
    URL_ENV,
    LabelStudioServer,
    project_title,
    pull_labels,
    send_to_label_studio,
)
from dq.errors import DQError
from dq.insights.split_rows import SplitRows
from dq.store import Run
from dq_console.cart_view import review_insights
from dq_console.state import notify
from dq_console.team import author, may_edit
from dq_console.text import plural


def configured_server() -> LabelStudioServer | None:
    """The server of the environment or of the auth config's ``[label_studio]`` section, or None."""
    try:
        config: dict[str, Any] = st.secrets.to_dict()
    except Exception:  # noqa: BLE001 - no secrets file at all: nothing configured there
        config = {}
    return LabelStudioServer.from_settings(os.environ, config)


def _send(run: Run, split: str, include_flagged: bool, samples: SplitRows) -> None:
    try:
        review = review_insights(run, split, samples, include_flagged=include_flagged)
        frame = labelers_frame(run, split, include_flagged=include_flagged, insights=review)
        sent = send_to_label_studio(run, split, frame, server=_server(), by=author(), cart=EditsCart())
    except DQError as exc:
        notify(str(exc), icon=":material/error:")
        return
    st.session_state["ls_project_url"] = sent.project_url
    notify(
        f"Sent {plural(sent.created, 'new task')} to Label Studio"
        + (f", updated the text of {plural(sent.updated, 'task')}" if sent.updated else "")
        + ".",
        icon=":material/group:",
    )


def _pull(run: Run, split: str) -> None:
    try:
        pulled = pull_labels(run, split, server=_server(), by=author(), cart=EditsCart())
    except DQError as exc:
        notify(str(exc), icon=":material/error:")
        return
    n = sum(pulled.relabeled.values())
    who = ", ".join(f"{email} ({count})" for email, count in pulled.relabeled.items())
    notify(
        f"Pulled {plural(pulled.annotated, 'annotated task')}: "
        + (f"{plural(n, 'relabel')} added to the cart, by {who}." if n else "no label differs from the cart's."),
        icon=":material/download_done:",
    )


def _server() -> LabelStudioServer:
    server = configured_server()
    if server is None:  # taken away since the page was drawn
        raise DQError(f"No Label Studio server is configured ({URL_ENV}, {KEY_ENV}).")
    return server


def label_studio_section(run: Run, split: str, samples: SplitRows) -> None:
    """Send to Label Studio and pull labels (editors), or how to set a server up (``samples``: the
    split's insights, for the DEP and suggestions the tasks carry)."""
    st.subheader("Label Studio")
    try:
        server = configured_server()
    except DQError as exc:
        st.warning(str(exc), icon=":material/warning:")
        return
    if server is None:
        st.caption(
            f"Set {URL_ENV} and {KEY_ENV} in the server's environment (or url and api_key under [{SECTION}] in "
            "the auth config) to send samples to a Label Studio server and pull their labels back. The Label "
            "Studio file above imports by hand."
        )
        return
    st.caption(
        f"Server {server.url}, project “{project_title(run, split)}”: the samples marked for labelers go out as "
        "tasks with their label as a prediction scored by DEP; finished annotations come back as relabels in "
        "this cart, each by its annotator."
    )
    if url := st.session_state.get("ls_project_url"):
        st.link_button("Open the project in Label Studio", url, icon=":material/open_in_new:")
    if not may_edit(run.project):
        return
    include = st.toggle("Also every likely-mislabeled sample", key="ls_include_flagged")
    send_col, pull_col = st.columns(2)
    send_col.button(
        "Send to Label Studio",
        icon=":material/group:",
        on_click=_send,
        args=(run, split, include, samples),
        key="ls_send",
    )
    pull_col.button("Pull labels", icon=":material/download:", on_click=_pull, args=(run, split), key="ls_pull")
