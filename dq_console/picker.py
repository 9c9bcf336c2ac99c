"""The project / run / split picker shown in the sidebar of every analysis page."""

from __future__ import annotations

import streamlit as st

from dq.insights import StoredSplit, has_insights
from dq.splits import split_title
from dq.store import Run, list_runs
from dq.store.reader import RunEntry
from dq_console.data import insights_read, load_map, open_run
from dq_console.map_selection import needs_restore, restore_selection
from dq_console.preview import PREVIEW_AFTER_S, PREVIEW_AT_ONCE_ROWS, while_reading
from dq_console.state import clear_filters, init_state
from dq_console.team import require_visitor, sign_in_on, user_badge, visible


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


def _pick(key: str, box: str) -> None:
    """A box changed: pin its choice (``project`` / ``run``) and start the new view unfiltered."""
    st.session_state[key] = st.session_state[box]
    if key == "project":
        st.session_state["run"] = None  # the new project's newest run
    clear_filters()


def choose_run(project: str, run: str) -> None:
    """Pin ``project``/``run`` as the open run and start its view unfiltered (the Runs page, the
    newer-run notice)."""
    st.session_state["project"], st.session_state["run"] = project, run
    clear_filters()


def _dismiss_newer(project: str, names: list[str]) -> None:
    st.session_state["runs_seen"] = sorted({*st.session_state["runs_seen"], *(f"{project}/{n}" for n in names)})


def _pinned_box(label: str, key: str, options: list[str]) -> None:
    """A selectbox showing the pinned ``st.session_state[key]``.

    The pinned value lives under its own key, not the widget's, and the widget's key names the
    value it opened on: a box whose options changed (a new run appeared) never falls back to its
    first option, and a run opened from elsewhere (a button) shows at once.
    """
    pinned = st.session_state[key]
    box = f"{key}_box_{pinned}"
    st.selectbox(label, options, index=options.index(pinned), key=box, on_change=_pick, args=(key, box))


def _announce_newer(runs: list[RunEntry], current: RunEntry) -> None:
    """Say so when a run newer than the open one appeared in its project since the user chose it."""
    seen = set(st.session_state["runs_seen"])
    # run.json's created is ISO 8601 UTC in one format, so the strings sort as the times do.
    newer = [e for e in runs if f"{e.project}/{e.run}" not in seen and e.created > current.created]
    if not newer:
        return
    newest = newer[0]  # list_runs: newest first
    st.info(
        f"A newer run **{newest.run}** exists in this project; you are on **{current.run}**.",
        icon=":material/fiber_new:",
    )
    go, stay, _ = st.columns([1, 1, 3])
    go.button(f"Open {newest.run}", key="open_newer", on_click=choose_run, args=(newest.project, newest.run))
    stay.button(
        "Stay on this run", key="dismiss_newer", on_click=_dismiss_newer, args=(newest.project, [e.run for e in newer])
    )


def pick_run(*, preview: bool = False) -> tuple[Run, str, StoredSplit]:
    """Render the picker; return the run, the split and its insights (or stop the page). While a
    large run's insights are read, the page shows that (``preview``: and the table's first page).

    The project and run stay what the user chose until the user changes them; a run that appears
    later is announced, never opened by itself.
    """
    # The first request to a fresh server runs a deep-linked page without streamlit_app.py (Streamlit's
    # pages/-folder mode lasts until st.navigation first runs), so the state may not be set up yet.
    init_state()
    require_visitor()
    entries = visible([e for e in list_runs() if e.finished])
    if not entries and sign_in_on():
        st.info("No finished run in your projects yet.", icon=":material/folder_open:")
        st.stop()
    if not entries:
        offer_demo()
    projects = sorted({e.project for e in entries})
    state = st.session_state
    if state["project"] not in projects:
        state["project"], state["run"] = entries[0].project, None
    runs = [e for e in entries if e.project == state["project"]]
    names = [e.run for e in runs]
    if state["run"] not in names:
        state["run"] = names[0]
    if state["runs_seen_for"] != (state["project"], state["run"]):
        # What existed when this run was chosen: only runs that appear later are announced.
        state["runs_seen"] = [f"{e.project}/{e.run}" for e in entries]
        state["runs_seen_for"] = (state["project"], state["run"])
    entry = runs[names.index(state["run"])]
    with st.sidebar:
        _pinned_box("Project", "project", projects)
        _pinned_box("Run", "run", names)
        run = open_run(entry)
        if state["split"] not in run.splits:
            state["split"] = run.splits[0]  # training first
        st.selectbox("Split", run.splits, key="split", format_func=split_title, on_change=_on_change_view)
    user_badge(run.project)
    _announce_newer(runs, entry)
    read = insights_read(str(run.path), run.content_hash)
    if has_insights(run):  # on disk: read in the background, the page drawn meanwhile
        try:
            large = run.n_samples(state["split"]) >= PREVIEW_AT_ONCE_ROWS
            insights = read.result(timeout=0 if large else PREVIEW_AFTER_S)
        except TimeoutError:  # a large run: show what can be shown while it is read, then rerun
            while_reading(run, state["split"], read, table=preview)
            st.stop()
    else:  # computed now, once per run: nothing to show before it is done
        with st.spinner("Computing insights (once per run)..."):
            insights = read.result()
    st.session_state.pop("reading_since", None)
    split_insights = insights[state["split"]]
    if needs_restore():  # a copied link with a map selection: find its points again
        restore_selection(split_insights, load_map(str(run.path), run.content_hash, state["split"]))
    return run, state["split"], split_insights
