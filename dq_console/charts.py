"""The Metrics tab's charts: aggregated on the server, drawn with Altair, clickable.

Every chart gets a small table (one row a class, a pair or a DEP bin), never the samples. A click
on a bar is an Altair point selection named ``pick``; its callback turns the picked bar into
filters (:func:`pick_updates`), and the page reruns filtered.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from dq.insights.metrics import DEP_BIN_EDGES, class_report
from dq.insights.overlap import class_overlap, top_misclassified_pairs
from dq.insights.split_rows import RowSet

#: Pairs shown in the misclassified-pairs and overlap charts.
TOP_PAIRS = 10
#: Classes shown in a per-class chart (the worst ones when there are more).
MAX_CLASS_BARS = 100
#: Pixels per bar of a horizontal bar chart, and the most a chart's scroll box takes.
BAR_PX = 20
SCROLL_BOX_PX = 340
#: Width (pixels) a class name may take on an axis before it is cut with an ellipsis.
AXIS_LABEL_PX = 220
#: Width (pixels) of a class column in the pairs and overlap tables.
TABLE_CLASS_PX = 165
OUTCOME_COLORS = alt.Scale(domain=["correct", "misclassified"], range=["#9ecae9", "#e45756"])
#: How each metric of the picker reads per class (accuracy per class is its recall).
PER_CLASS = {
    "f1": ("f1", "F1"),
    "accuracy": ("recall", "Accuracy (recall)"),
    "precision": ("precision", "Precision"),
    "recall": ("recall", "Recall"),
}
PICK = "pick"


@dataclass(frozen=True)
class Aggregates:
    """What the Metrics tab draws, for the filtered rows."""

    classes: pd.DataFrame  # label, precision, recall, f1, support, n_predicted, correct, misclassified
    pairs: pd.DataFrame  # label, pred, count, share_of_label
    overlap: pd.DataFrame  # class_a, class_b, overlap, n_confused
    dep: pd.DataFrame  # bin_start, bin_end, outcome, count


def aggregate(rows: RowSet, classes: list[str]) -> Aggregates:
    """Per-class metrics and counts, top pairs, class overlap and DEP bins of ``rows`` (the split's
    class indices and probabilities are read once, as arrays)."""
    labels, preds = rows.codes("label"), rows.codes("pred")
    report = class_report(labels, preds, classes)
    labeled = labels >= 0
    correct = np.bincount(labels[labeled & (labels == preds)], minlength=len(classes))
    report["correct"] = correct
    report["misclassified"] = report["support"] - correct
    report = report[(report["support"] > 0) | (report["n_predicted"] > 0)].reset_index(drop=True)
    pairs = top_misclassified_pairs(labels, preds, classes, top=TOP_PAIRS)
    overlap = (
        class_overlap(rows.samples.column("probs")[rows.positions], labels, classes, top=TOP_PAIRS)
        if labeled.any()
        else pd.DataFrame(columns=["class_a", "class_b", "overlap", "n_confused"])
    )
    return Aggregates(
        report,
        pairs,
        overlap[overlap["overlap"] > 0].reset_index(drop=True),
        dep_bins(rows.dep, labeled & (labels != preds)),
    )


@st.cache_resource(show_spinner=False, max_entries=16)
def view_aggregates(view: str, _owner: object, _rows: RowSet, classes: tuple[str, ...]) -> tuple[object, Aggregates]:
    """:func:`aggregate`, kept per view: ``view`` names the filtered rows of ``_owner`` (the split's
    insights, held by the entry so the ``id`` in ``view`` stays its own)."""
    return _owner, aggregate(_rows, list(classes))


def dep_bins(dep: np.ndarray, is_misclassified: np.ndarray) -> pd.DataFrame:
    """Counts of correct and misclassified samples per fixed DEP bin (``DEP_BIN_EDGES``)."""
    edges = np.asarray(DEP_BIN_EDGES)
    bins = np.clip(np.searchsorted(edges, dep, side="right") - 1, 0, len(edges) - 2)
    n_bins = len(edges) - 1
    wrong = np.bincount(bins[is_misclassified], minlength=n_bins)
    right = np.bincount(bins[~is_misclassified], minlength=n_bins)
    return pd.DataFrame(
        {
            "bin_start": np.tile(edges[:-1], 2).round(2),
            "bin_end": np.tile(edges[1:], 2).round(2),
            "outcome": ["correct"] * n_bins + ["misclassified"] * n_bins,
            "count": np.concatenate([right, wrong]),
        }
    )


# --- clicks -> filters -----------------------------------------------------------------------------


def pick_updates(kind: str, points: list[dict[str, Any]]) -> dict[str, Any]:
    """The state keys a click on a chart sets: ``kind`` is the chart, ``points`` its selection."""
    if not points:
        return {}
    p = points[0]
    if kind == "class":
        return {"label": [p["label"]]}
    if kind == "pair":
        return {"label": [p["label"]], "pred": [p["pred"]]}
    if kind == "overlap":
        both = [p["class_a"], p["class_b"]]
        return {"label": both, "pred": list(both)}
    if kind == "dep":
        return {"dep_min": float(p["bin_start"]), "dep_max": float(p["bin_end"])}
    raise ValueError(f"The 'kind' parameter must be 'class', 'pair', 'overlap' or 'dep'. Got {kind!r} instead.")


def _on_pick(key: str, kind: str) -> Callable[[], None]:
    def apply() -> None:
        selection = st.session_state[key].selection
        updates = pick_updates(kind, list(selection.get(PICK, [])))
        if updates:
            st.session_state.update(updates)
            st.session_state["page_number"] = 1

    return apply


def clickable(chart: alt.Chart, *, key: str, kind: str) -> None:
    """Draw ``chart``; a click on one of its bars filters the dataset."""
    st.altair_chart(chart, key=key, on_select=_on_pick(key, kind), selection_mode=PICK, width="stretch")


def _on_row(key: str, kind: str, table: pd.DataFrame) -> Callable[[], None]:
    def apply() -> None:
        chosen = st.session_state[key].selection.rows
        if chosen:
            st.session_state.update(pick_updates(kind, [table.iloc[chosen[0]].to_dict()]))
            st.session_state["page_number"] = 1

    return apply


def clickable_table(table: pd.DataFrame, *, key: str, kind: str, columns: dict[str, Any]) -> None:
    """Draw ``table`` (a few rows); selecting a row filters the dataset to it."""
    st.dataframe(
        table,
        key=key,
        hide_index=True,
        column_config=columns,
        column_order=list(columns),
        on_select=_on_row(key, kind, table),
        selection_mode="single-row",
    )


# --- charts ------------------------------------------------------------------------------------------


def _pick(*fields: str) -> alt.Parameter:
    return alt.selection_point(name=PICK, fields=list(fields), on="click")


def _class_axis(sort: Any) -> alt.Y:
    return alt.Y("label:N", sort=sort, title=None, axis=alt.Axis(labelLimit=AXIS_LABEL_PX))


def bar_height(n_bars: int) -> int:
    """About the pixel height of a horizontal bar chart of ``n_bars`` bars (axis and title included)."""
    return max(n_bars, 1) * BAR_PX + 60


def metric_by_class(classes: pd.DataFrame, metric: str) -> alt.Chart:
    """Horizontal bars of the picked metric per class, worst first."""
    column, title = PER_CLASS[metric]
    data = classes.nsmallest(MAX_CLASS_BARS, column)[["label", column, "support"]].rename(columns={column: "value"})
    pick = _pick("label")
    return (
        alt.Chart(data, height=alt.Step(BAR_PX))
        .mark_bar(color="#4c78a8")
        .encode(
            x=alt.X("value:Q", title=title, scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(orient="top")),
            y=_class_axis("x"),
            opacity=alt.condition(pick, alt.value(1.0), alt.value(0.4)),
            tooltip=[
                alt.Tooltip("label:N", title="class"),
                alt.Tooltip("value:Q", title=title, format=".3f"),
                alt.Tooltip("support:Q", title="samples"),
            ],
        )
        .add_params(pick)
    )


def count_by_class(classes: pd.DataFrame) -> alt.Chart:
    """Samples per ground-truth class, split into correct and misclassified, largest first."""
    top = classes[classes["support"] > 0].nlargest(MAX_CLASS_BARS, "support")
    data = top.melt(
        id_vars=["label", "support"], value_vars=["correct", "misclassified"], var_name="outcome", value_name="count"
    )
    pick = _pick("label")
    return (
        alt.Chart(data, height=alt.Step(BAR_PX))
        .mark_bar()
        .encode(
            x=alt.X("count:Q", title="samples", stack="zero", axis=alt.Axis(orient="top")),
            y=_class_axis(alt.EncodingSortField("support", order="descending")),
            color=alt.Color("outcome:N", scale=OUTCOME_COLORS, legend=None),
            opacity=alt.condition(pick, alt.value(1.0), alt.value(0.4)),
            tooltip=[alt.Tooltip("label:N", title="class"), "outcome:N", "count:Q"],
        )
        .add_params(pick)
    )


def pairs_columns(pairs: pd.DataFrame) -> dict[str, Any]:
    """How the misclassified-pairs table shows its columns (count as a bar)."""
    top = int(pairs["count"].max()) if len(pairs) else 1
    return {
        "label": st.column_config.TextColumn("Ground truth", width=TABLE_CLASS_PX),
        "pred": st.column_config.TextColumn("Predicted as", width=TABLE_CLASS_PX),
        "count": st.column_config.ProgressColumn("Samples", min_value=0, max_value=top, format="%d", width=80),
    }


def overlap_columns() -> dict[str, Any]:
    """How the overlapping-classes table shows its columns (overlap as a bar over 0..0.5)."""
    return {
        "class_a": st.column_config.TextColumn("Class", width=TABLE_CLASS_PX),
        "class_b": st.column_config.TextColumn("Overlaps with", width=TABLE_CLASS_PX),
        "overlap": st.column_config.ProgressColumn(
            "Overlap",
            min_value=0.0,
            max_value=0.5,
            format="%.2f",
            width=80,
            help="Mean probability each class puts on the other: 0 = never confused, 0.5 = indistinguishable",
        ),
        "n_confused": st.column_config.NumberColumn(
            "Confused", format="%d", width=75, help="Samples of either class predicted as the other"
        ),
    }


def dep_chart(bins: pd.DataFrame) -> alt.Chart:
    """DEP histogram over fixed bins, correct and misclassified stacked."""
    pick = _pick("bin_start", "bin_end")
    return (
        alt.Chart(bins, height=200)
        .mark_bar()
        .encode(
            x=alt.X("bin_start:Q", bin="binned", title="DEP", scale=alt.Scale(domain=[0, 1])),
            x2="bin_end:Q",
            y=alt.Y("count:Q", title="samples (√ scale)", stack="zero", scale=alt.Scale(type="sqrt")),
            color=alt.Color("outcome:N", scale=OUTCOME_COLORS, legend=None),
            opacity=alt.condition(pick, alt.value(1.0), alt.value(0.4)),
            tooltip=[
                alt.Tooltip("bin_start:Q", title="DEP from", format=".2f"),
                alt.Tooltip("bin_end:Q", title="DEP to", format=".2f"),
                "outcome:N",
                "count:Q",
            ],
        )
        .add_params(pick)
    )
