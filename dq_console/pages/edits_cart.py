"""Edits cart: what the edits of this run and split add up to, the list of edits with undo, the
fixed dataset and the files for labelers to download, and retraining on the fixed data."""

import streamlit as st

from dq_console.cart_view import counts_row, downloads, edit_list, undo_bar
from dq_console.labelstudio_view import label_studio_section
from dq_console.picker import pick_run
from dq_console.retrain_view import retrain_section
from dq_console.state import require_entry_script, sync_url
from dq_console.team import may_edit, read_only_note

require_entry_script()
run, split, insights = pick_run()
st.title("Edits cart")
st.caption(
    f"The edits of {run.project}/{run.name}, split {split}: the run itself never changes; the cart is "
    "kept in SQLite under the dq home and shared by every browser session."
)
editable = may_edit(run.project)  # a viewer reads the cart and downloads; the library refuses their edits anyway
counts = counts_row(run, split)
if editable:
    undo_bar(run, split, sum(counts.values()))
else:
    read_only_note(run.project)
edit_list(run, split, insights.samples)
st.divider()
downloads(run, split, insights.samples)
st.divider()
label_studio_section(run, split, insights.samples)
if editable:
    st.divider()
    retrain_section(run, split)
sync_url()
