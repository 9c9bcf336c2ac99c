"""Embeddings: the 2-D map of the split colored by DEP (or label, prediction, cluster), text on hover;
a box or lasso selection filters the table and charts of the Dataset page."""

import streamlit as st

from dq_console.data import load_map
from dq_console.entry import page_path
from dq_console.map_chart import COLOR_CHOICES, clear_selection, show_map, shown_mask
from dq_console.picker import pick_run
from dq_console.state import clear_filters, require_entry_script, sync_url

require_entry_script()
run, split, insights = pick_run()
st.title("Embeddings")
st.caption(
    "Each point is a sample; similar texts lie close together (UMAP of the sentence embeddings). "
    "Drag a box or a lasso around points to select them: the Dataset page then lists only those."
)

xy = load_map(str(run.path), run.content_hash, split)
mask = shown_mask(insights)
n_total, n_shown = insights.samples.n_rows, int(mask.sum())
if n_shown == 0:
    st.info("No sample of this split passes the current filters.")
    st.button("Clear filters", on_click=clear_filters)
    st.stop()

controls, counts, actions = st.columns([3, 3, 2], vertical_alignment="bottom")
color = controls.radio("Color by", list(COLOR_CHOICES), key="map_color", horizontal=True)
shown = f"{n_shown:,} of {n_total:,} samples shown" + (" (filtered)" if n_shown < n_total else "")
selected = st.session_state["selected_ids"]
counts.markdown(
    shown + ("  \nNo points selected" if selected is None else f"  \n**{len(selected):,} points selected**")
)
if selected is not None:
    actions.button("Clear selection", on_click=clear_selection)
    actions.page_link(page_path("dataset"), label="Open them in Dataset", icon=":material/table_rows:")
elif n_shown < n_total:
    actions.button("Show all samples", on_click=clear_filters)

show_map(xy, insights.samples, mask, color=color)
sync_url()
