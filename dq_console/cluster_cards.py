"""Cluster cards: one bordered card per topic cluster (size, average DEP, F1, top words, top label),
sortable, each with a button that opens the Dataset page filtered to that cluster."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from dq.insights.cluster_titles import SummarySettings
from dq.insights.split_rows import SplitRows
from dq_console.entry import page_path
from dq_console.gpt import cluster_texts, show_summary
from dq_console.state import sync_url

#: The sort control: choice -> (column, ascending). Each puts the clusters worth a look first.
SORT_CHOICES: dict[str, tuple[str, bool]] = {
    "Average DEP": ("avg_dep", False),
    "Size": ("size", False),
    "F1": ("macro_f1", True),
}
SORT_HELP = "Average DEP: most likely errors first. Size: largest first. F1: weakest model quality first."
#: The compact view: one row per cluster.
TABLE_CONFIG = {
    "cluster": st.column_config.NumberColumn("Cluster", format="%d"),
    "size": st.column_config.NumberColumn("Samples", format="localized"),
    "share": st.column_config.NumberColumn("Share", format="percent"),
    "avg_dep": st.column_config.ProgressColumn("Avg DEP", min_value=0.0, max_value=1.0, format="%.2f"),
    "macro_f1": st.column_config.NumberColumn("F1", format="%.2f"),
    "top_words": st.column_config.ListColumn("Top words"),
    "top_label": "Top label",
}


def cluster_table_view(table: pd.DataFrame) -> None:
    """All clusters in one table, in ``table``'s order; ticking one opens it in the Dataset page."""
    columns = [c for c in TABLE_CONFIG if c in table.columns]
    picked = st.dataframe(
        table[columns], hide_index=True, column_config=TABLE_CONFIG, on_select="rerun",
        selection_mode="single-row", key="cluster_table", height=min(38 + 35 * len(table), 700),
    )  # fmt: skip
    if picked.selection.rows:
        cluster = int(table["cluster"].iloc[picked.selection.rows[0]])
        if st.button(f"Show cluster {cluster} in Dataset", icon=":material/table_rows:", key="cluster_table_show"):
            show_in_dataset(cluster)


CARDS_PER_ROW = 3


def sort_clusters(table: pd.DataFrame, by: str) -> pd.DataFrame:
    """The cluster table in the order of sort choice ``by``; ties (and missing values, last) by cluster id.

    >>> t = pd.DataFrame({"cluster": [0, 1, 2], "size": [5, 9, 5], "avg_dep": [0.1, 0.3, 0.2],
    ...                   "macro_f1": [0.9, float("nan"), 0.5]})
    >>> [sort_clusters(t, by)["cluster"].tolist() for by in ("Size", "Average DEP", "F1")]
    [[1, 0, 2], [1, 2, 0], [2, 0, 1]]
    """
    column, ascending = SORT_CHOICES[by]
    if column not in table:
        return table.sort_values("cluster", kind="stable")
    ordered = table.sort_values("cluster", kind="stable")
    return ordered.sort_values(column, ascending=ascending, kind="stable", na_position="last")


def _number(value: Any, fmt: str) -> str:
    return "–" if value is None or pd.isna(value) else format(value, fmt)


def show_in_dataset(cluster: int) -> None:
    """Filter the Dataset page to ``cluster`` (keeping the other filters) and open it."""
    st.session_state["cluster"] = [int(cluster)]
    st.session_state["page_number"] = 1
    sync_url()
    st.switch_page(page_path("dataset"))


def _card(
    row: pd.Series,
    *,
    split_dep: float | None,
    split_f1: float | None,
    texts: list[str],
    settings: SummarySettings | None,
) -> None:
    cluster = int(row["cluster"])
    words = [str(w) for w in (row.get("top_words") if row.get("top_words") is not None else [])]
    with st.container(border=True):
        st.markdown(f"**Cluster {cluster}** · {int(row['size']):,} samples")
        st.caption(f"{row['share']:.1%} of the split")
        dep_col, f1_col = st.columns(2)
        avg_dep = row.get("avg_dep")
        dep_delta = None if split_dep is None or avg_dep is None or pd.isna(avg_dep) else f"{avg_dep - split_dep:+.2f}"
        dep_col.metric("Avg DEP", _number(avg_dep, ".2f"), delta=dep_delta, delta_color="inverse",
                       help="Average Data Error Potential (higher = more likely data errors); "
                            "the arrow compares it with the whole split.")  # fmt: skip
        f1 = row.get("macro_f1")
        f1_delta = None if split_f1 is None or f1 is None or pd.isna(f1) else f"{f1 - split_f1:+.2f}"
        f1_col.metric(
            "F1",
            _number(f1, ".2f"),
            delta=f1_delta,
            delta_description=None if f1_delta is None else f"vs {split_f1:.2f} (split)",
            help="Macro F1 of the model over the classes present in the cluster; below it, the difference "
            "from the whole split's macro F1.",
        )
        label = row.get("top_label")
        if label is not None and not pd.isna(label):
            st.text(f"Top label: {label} ({row['top_label_share']:.0%})")
        show_summary(cluster, texts, words, settings)
        if st.button("Show in Dataset", key=f"show_cluster_{cluster}", icon=":material/table_rows:"):
            show_in_dataset(cluster)


def show_cluster_cards(
    table: pd.DataFrame,
    samples: SplitRows,
    *,
    split_dep: float | None,
    settings: SummarySettings | None,
    split_f1: float | None = None,
) -> None:
    """A grid of cards for the rows of ``table`` in their order (GPT summaries when ``settings``)."""
    texts = cluster_texts(samples) if settings is not None and settings.api_key else {}
    rows = list(table.iterrows())
    for start in range(0, len(rows), CARDS_PER_ROW):
        columns = st.columns(CARDS_PER_ROW)
        for column, (_, row) in zip(columns, rows[start : start + CARDS_PER_ROW]):
            with column:
                _card(
                    row,
                    split_dep=split_dep,
                    split_f1=split_f1,
                    texts=texts.get(int(row["cluster"]), []),
                    settings=settings,
                )


def mean_dep(samples: SplitRows) -> float | None:
    """The split's average DEP (None when empty)."""
    return float(np.nanmean(samples.column("dep"))) if samples.n_rows else None
