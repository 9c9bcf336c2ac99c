"""Clusters: a card per topic cluster with its size, average DEP, F1 and top words, sortable; a card opens
the Dataset page filtered to its cluster. GPT summaries (a title and a paragraph) on demand, opt-in."""

import streamlit as st

from dq_console.cluster_cards import (
    SORT_CHOICES,
    SORT_HELP,
    cluster_table_view,
    mean_dep,
    show_cluster_cards,
    sort_clusters,
)
from dq_console.gpt import gpt_controls
from dq_console.picker import pick_run
from dq_console.state import require_entry_script, sync_url

require_entry_script()
run, split, insights = pick_run()
st.title("Clusters")
st.caption(
    "Topics found by k-means over the sentence embeddings (fitted on the training split, so a cluster "
    "means the same topic in every split). Top words are the words most particular to a cluster."
)
if insights.clusters.empty:
    st.info("This split has no clusters.")
    st.stop()

settings = gpt_controls()
sort_col, view_col = st.columns([3, 2])
order = sort_col.radio("Sort by", list(SORT_CHOICES), key="cluster_sort", horizontal=True, help=SORT_HELP)
view = view_col.segmented_control("View", ["Table", "Cards"], key="cluster_view", required=True)
how = "Tick a cluster, then Show" if view == "Table" else "Show in Dataset"
st.caption(
    f"{len(insights.clusters)} clusters over {insights.samples.n_rows:,} samples of {split}. "
    f"{how} adds the cluster to the Dataset page's current filters."
)
ordered = sort_clusters(insights.clusters, order)
if view == "Table":
    cluster_table_view(ordered)
else:
    show_cluster_cards(
        ordered,
        insights.samples,
        split_dep=mean_dep(insights.samples),
        split_f1=insights.summary["metrics"].get("macro_f1"),
        settings=settings,
    )
sync_url()
