"""Dataset: the samples of a split ranked by DEP (likeliest data errors first), filtered from the
sidebar; beside them, the insights menu; below them, the actions that fix the ticked or filtered
samples (into the edits cart) and the sample opened in the table."""

import streamlit as st

from dq.errors import ValidationError
from dq_console.actions import actions_panel
from dq_console.cart import active_edits
from dq_console.filter_bar import filter_bar
from dq_console.filters import filtered
from dq_console.insights_menu import insights_menu
from dq_console.picker import pick_run
from dq_console.sample_view import sample_view
from dq_console.state import require_entry_script, sync_url
from dq_console.table import sample_table

require_entry_script()
run, split, insights = pick_run()
filter_bar(run, insights)
st.title("Dataset")
for alert in insights.alerts:
    if alert.kind == "weak_model":  # said before anything else: it changes what every DEP means
        st.warning(alert.message, icon=":material/warning:")

try:
    rows = filtered(insights)
except ValidationError as exc:  # a regex that does not compile, a metadata column this split lacks
    st.error("These filters cannot be applied; change them or clear them in the sidebar.", icon=":material/error:")
    st.code(str(exc), language=None, wrap_lines=True)
    sync_url()
    st.stop()

active = active_edits(run, split)
table_col, menu_col = st.columns([2, 1], gap="medium")
with table_col:
    ticked = sample_table(rows, split=split, n_split=len(insights.frame), active=active)
    actions_panel(run, split, insights.frame, rows, ticked)
    sample_view(run, split, insights, st.session_state["sample_id"], active=active)
with menu_col:
    insights_menu(run, split, insights, rows)

sync_url()
