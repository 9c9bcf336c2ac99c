"""The project / run / split picker shown in the sidebar of every analysis page."""

from __future__ import annotations

import streamlit as st

from dq.insights import SplitInsights
from dq.store import Run, list_runs
from dq_console.data import load_insights, open_run
from dq_console.state import clear_filters, init_state


def offer_demo() -> None:
    """No runs: say so and offer to build the demo run (with visible progress)."""
    st.info(
        "There are no runs yet. Build the bundled BANKING77 demo run with `dq demo` or the button below "
        "(about a minute), or log your own with `dq auto`."
    )
    st.code("dq demo\ndq auto data.csv --text-col text --label-col label", language="bash")
    if st.button("Build the demo run", type="primary"):
        from dq.auto.demo import build_demo

        with st.status("Building the demo run...", expanded=True) as status:
            result = build_demo(progress=False, log=status.write)
            status.update(label=f"Demo run ready at {result.path}", state="complete")
        st.rerun()
    st.stop()


def _on_change_view() -> None:
    clear_filters()


def pick_run() -> tuple[Run, str, SplitInsights]:
    """Render the picker; return the run, the split and its insights (or stop the page)."""
    # The first request to a fresh server runs a deep-linked page without streamlit_app.py (Streamlit's
    # pages/-folder mode lasts until st.navigation first runs), so the state may not be set up yet.
    init_state()
    entries = [e for e in list_runs() if e.finished]
    if not entries:
        offer_demo()
    projects = sorted({e.project for e in entries})
    state = st.session_state
    if state["project"] not in projects:
        state["project"] = entries[0].project
    with st.sidebar:
        st.selectbox("Project", projects, key="project", on_change=_on_change_view)
        runs = [e for e in entries if e.project == state["project"]]
        names = [e.run for e in runs]
        if state["run"] not in names:
            state["run"] = names[0]
        st.selectbox("Run", names, key="run", on_change=_on_change_view)
        entry = runs[names.index(state["run"])]
        run = open_run(entry)
        if state["split"] not in run.splits:
            state["split"] = run.splits[0]  # training first
        st.selectbox("Split", run.splits, key="split", on_change=_on_change_view)
    insights = load_insights(str(run.path), run.content_hash)
    return run, state["split"], insights[state["split"]]
