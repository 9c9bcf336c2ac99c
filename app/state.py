"""Session state of the console, initialised in one place before any page runs."""

from __future__ import annotations

from typing import Any

import streamlit as st

#: Every session-state key the console uses, with its value in a new session.
DEFAULTS: dict[str, Any] = {
    # The run directory the analysis pages look at; None until one is picked on the Runs page.
    "run_dir": None,
}


def init_state() -> None:
    """Give every key in :data:`DEFAULTS` its default, leaving keys already set alone."""
    for key, value in DEFAULTS.items():
        st.session_state.setdefault(key, value)
