"""Session state of the console, initialised in one place before any page runs.

The view (project, run, split) and the filters live in the URL query string too, so a copied
link opens the same view: :func:`init_state` reads them once per session, :func:`sync_url`
writes them back after the page's widgets ran.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

#: Keys that mirror the URL; lists are comma-joined there.
URL_KEYS: dict[str, Any] = {
    "project": None,
    "run": None,
    "split": None,
    "dep_min": 0.0,
    "dep_max": 1.0,
    "label": [],
    "pred": [],
    "misclassified": False,
    "mislabeled": False,
    "alert": None,  # index of an alert of the split, as a string key "kind:n"
    "cluster": [],
    "q": "",
    "regex": False,
    "meta": "",  # "column=value" pairs joined by ";"
    "metric": "f1",
    "tab": "Samples",  # the Dataset page's open tab
    "map_selection": "",  # the map selection's shapes (dq_console.map_selection), "" = none
}
_LIST_KEYS = {"label", "pred", "cluster"}
_BOOL_KEYS = {"misclassified", "mislabeled", "regex"}
_FLOAT_KEYS = {"dep_min", "dep_max"}

#: Keys that stay in the session only.
SESSION_DEFAULTS: dict[str, Any] = {
    "run_dir": None,
    "runs_seen": [],  # "project/run" of the runs that existed when the open run was chosen
    "runs_seen_for": None,  # (project, run) those were recorded for
    "selected_ids": None,  # ids chosen on the map (box/lasso); None = no map selection
    "page_number": 1,
    "sample_id": None,  # id of the sample opened on the Dataset page; None = none open
    "sample_view": None,  # the view (filters' key) it was opened from
    "table_cell": None,  # (row, column) of the table cell clicked last
    "table_generation": 0,  # renews the table widget when the panel closes
    "ticked_ids": [],  # ids ticked in the Dataset table (the actions' targets)
    "ticked_key": None,  # the table (view and page) those ticks belong to
    "last_batch": None,  # batch id of this session's last action in the edits cart ("Undo last action")
    "retrain_cart": {},  # retrain job key -> (cart version, auto-fix) when this session started it
    "openai_enabled": False,
    "openai_model": "",  # one of the operator's allowed models; "" = the operator's default
    "map_color": "DEP",
    "cluster_sort": "Average DEP",
    "cluster_view": "Table",
}


def _parse(key: str, raw: str) -> Any:
    if key in _LIST_KEYS:
        values = [v for v in raw.split(",") if v != ""]
        return [int(v) for v in values if v.lstrip("-").isdigit()] if key == "cluster" else values
    if key in _BOOL_KEYS:
        return raw.lower() in ("1", "true", "yes")
    if key in _FLOAT_KEYS:
        try:
            return min(max(float(raw), 0.0), 1.0)
        except ValueError:
            return URL_KEYS[key]
    return raw


def require_entry_script() -> None:
    """Make a deep link on a fresh server run through ``streamlit_app.py``; call first on every page.

    Until some run has called ``st.navigation``, Streamlit treats the ``pages/`` folder as a
    multipage app of its own and runs a linked page (``/embeddings``) without the entry script:
    another sidebar menu, no wide layout. Leaving that mode and rerunning runs the entry script,
    whose ``st.navigation`` opens the same page. Only a session's first run may rerun: a rerun
    drops the widget events of the run it replaces.
    """
    from streamlit.runtime.pages_manager import PagesManager

    first = not st.session_state.get("_entry_checked")
    st.session_state["_entry_checked"] = True
    if first and PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


def init_state() -> None:
    """Defaults first, then whatever the URL says (once per session)."""
    for key, value in {**URL_KEYS, **SESSION_DEFAULTS}.items():
        st.session_state.setdefault(key, list(value) if isinstance(value, list) else value)
    if not st.session_state.get("_url_read"):
        for key in URL_KEYS:
            if key in st.query_params:
                st.session_state[key] = _parse(key, st.query_params[key])
        st.session_state["_url_read"] = True


def sync_url() -> None:
    """Write the non-default view and filter values to the URL (and drop the defaults)."""
    params = {}
    for key, default in URL_KEYS.items():
        value = st.session_state.get(key, default)
        if value == default or value in (None, "", []):
            continue
        if key in _LIST_KEYS:
            params[key] = ",".join(map(str, value))
        elif key in _BOOL_KEYS:
            params[key] = "1"
        else:
            params[key] = str(value)
    if dict(st.query_params) != params:
        st.query_params.from_dict(params)


FILTER_KEYS = (
    "dep_min",
    "dep_max",
    "label",
    "pred",
    "misclassified",
    "mislabeled",
    "alert",
    "cluster",
    "q",
    "regex",
    "meta",
)


def clear_filters() -> None:
    """Back to every sample of the split (the map selection included)."""
    for key in FILTER_KEYS:
        default = URL_KEYS[key]
        st.session_state[key] = list(default) if isinstance(default, list) else default
    st.session_state["selected_ids"] = None
    st.session_state["map_selection"] = ""
    st.session_state["page_number"] = 1


def open_sample(sample_id: Any, view: str) -> None:
    """Open ``sample_id`` in the panel; ``view`` (the filters' key) is the view it was opened from."""
    st.session_state["sample_id"], st.session_state["sample_view"] = sample_id, view


def close_sample() -> None:
    """Close the panel (a widget callback); the table forgets the clicked cell, so that a click on
    the same cell opens the sample again."""
    st.session_state["sample_id"] = None
    st.session_state["table_cell"] = None
    st.session_state["table_generation"] = int(st.session_state.get("table_generation", 0)) + 1


def notify(message: str, icon: str) -> None:
    """Say ``message`` in a toast at the next full run of the page (callable from a widget callback,
    also one fired inside the sample panel, whose own reruns would drop a toast)."""
    st.session_state.setdefault("notices", []).append((message, icon))


def show_notices() -> None:
    """Show the toasts :func:`notify` queued (once each)."""
    for message, icon in st.session_state.pop("notices", []):
        st.toast(message, icon=icon)
