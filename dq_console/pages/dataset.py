"""Dataset: the samples of a split ranked by DEP (likeliest data errors first), filtered from the
sidebar. Above the tabs, how many samples the filters keep and the metric on them; the Samples tab
holds the table (the page's whole width) and the actions that fix the ticked or filtered samples
(into the edits cart); the Alerts and Metrics tabs hold what stands out and the charts. A clicked
row opens its sample in a panel at the right."""

import streamlit as st

from dq.errors import ValidationError
from dq.insights import StoredSplit
from dq.insights.split_rows import RowSet
from dq.splits import is_inference
from dq.store import Run
from dq_console.actions import actions_panel
from dq_console.cart import active_edits
from dq_console.filter_bar import filter_bar
from dq_console.filters import filtered, view_key
from dq_console.insights_menu import alert_list, insights_summary, metrics_charts, page_tabs
from dq_console.picker import pick_run
from dq_console.sample_view import close_if_left, sample_panel
from dq_console.state import require_entry_script, show_notices, sync_url
from dq_console.table import sample_table
from dq_console.team import may_edit, read_only_note

require_entry_script()
run, split, insights = pick_run(preview=True)
filter_bar(run, insights)
st.title("Dataset")
if is_inference(split):
    st.info(
        "Inference data has no labels, so there are no label errors to find: DEP here is the model's uncertainty "
        "about its own prediction. Out of coverage marks samples unlike the training data.",
        icon=":material/info:",
    )
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


@st.fragment
def samples(run: Run, split: str, insights: StoredSplit, rows: RowSet) -> None:
    """The table and the fix panel. A page change, a tick or a fix reruns only them (a fragment): with
    twenty users on two cores that halves what the server and each browser do for a page change."""
    alone = not st.session_state.pop("page_run", False)
    ticked = sample_table(rows, split=split, n_split=insights.samples.n_rows, active=active_edits(run, split))
    if may_edit(run.project):
        actions_panel(run, split, rows, ticked)
    else:
        read_only_note(run.project)
    if alone:
        if st.session_state["sample_id"] is not None and st.session_state["sample_id"] != st.session_state.get(
            "panel_for"
        ):
            st.rerun()  # a clicked row: its panel is drawn by the whole page
        show_notices()
        sync_url()


close_if_left(view_key(split), rows.ids)
active = active_edits(run, split)
insights_summary(run, split, insights, rows)
samples_tab, alerts_tab, metrics_tab = page_tabs(len(insights.alerts))
st.session_state["panel_for"] = st.session_state["sample_id"]
if samples_tab.open:  # only the open tab runs: the charts cost nothing until someone looks
    with samples_tab:
        st.session_state["page_run"] = True
        samples(run, split, insights, rows)
if alerts_tab.open:
    with alerts_tab:
        alert_list(insights.alerts)
if metrics_tab.open:
    with metrics_tab:
        metrics_charts(run, split, insights, rows)
sample_panel(run, split, insights, active=active)

sync_url()
