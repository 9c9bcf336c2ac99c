"""Runs: the finished runs under DQ_HOME, and apart from them the directories that are not (yet) runs."""

from dataclasses import replace

import streamlit as st

from dq_console.entry import page_path
from dq_console.picker import choose_run
from dq_console.runs import FINISHED_COLUMNS, UNFINISHED_COLUMNS, finished_table, run_listing, unfinished_table
from dq_console.state import require_entry_script
from dq_console.team import require_visitor, visible

DEMO_COMMANDS = """\
make run      # set up, build the demo run, open this console
dq demo       # only build the demo run"""

require_entry_script()
require_visitor()
st.title("Runs")
listing = run_listing()
listing = replace(listing, finished=visible(listing.finished), unfinished=visible(listing.unfinished))
st.caption("Runs are read from")
st.code(str(listing.root), language=None)

if listing.is_empty:
    st.info("No runs yet. Build the demo run with `dq demo` (or `make run` from a checkout), then reload.")
    st.code(DEMO_COMMANDS, language="bash")
    st.stop()

st.subheader("Finished runs")
if listing.finished:
    st.caption("Tick a run to open it.")
    picked = st.dataframe(
        finished_table(listing.finished),
        hide_index=True,
        column_config=FINISHED_COLUMNS,
        on_select="rerun",
        selection_mode="single-row",
        key="runs_table",
    )
    if picked.selection.rows:
        entry = listing.finished[picked.selection.rows[0]]
        if st.button(f"Open {entry.project}/{entry.run}", type="primary", icon=":material/open_in_new:"):
            choose_run(entry.project, entry.run)
            st.switch_page(page_path("dataset"))
else:
    st.info("No finished run yet. Build the demo run with `dq demo`.")
    st.code(DEMO_COMMANDS, language="bash")

if listing.unfinished:
    st.subheader("Unfinished")
    st.caption("These directories hold no complete run: being logged, interrupted or damaged. They are not read.")
    st.dataframe(unfinished_table(listing.unfinished), hide_index=True, column_config=UNFINISHED_COLUMNS)
