"""The Dataset page's insights: the size and metric of the filtered rows above the page's tabs,
the Alerts tab (a click filters to an alert's samples and shows them) and the Metrics tab (charts
that follow the filters, with the page's whole width; a click on a bar or a row filters further).
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from dq.insights import StoredSplit
from dq.insights.alerts import Alert
from dq.insights.filters import SampleFilter
from dq.insights.metrics import METRIC_NAMES, metric_value
from dq.insights.split_rows import RowSet
from dq.splits import split_title
from dq.store import Run
from dq_console import charts
from dq_console.filter_bar import escape_markdown, mirror, widget_key
from dq_console.filters import alert_key, state_filter, view_key
from dq_console.state import clear_filters

METRIC_LABELS = {"f1": "F1", "accuracy": "Accuracy", "precision": "Precision", "recall": "Recall"}
#: The split-wide value of each metric in ``StoredSplit.summary["metrics"]``.
SUMMARY_KEYS = {"f1": "macro_f1", "accuracy": "accuracy", "precision": "macro_precision", "recall": "macro_recall"}
SEVERITY_ICONS = {"high": ":material/error:", "medium": ":material/warning:", "low": ":material/info:"}


#: The Dataset page's tabs (session key ``tab``, in the URL): the table, the alerts, the charts.
TABS = ("Samples", "Alerts", "Metrics")


def _show_alert(key: str) -> None:
    clear_filters()  # an alert's samples exactly, not their intersection with older filters
    st.session_state["alert"] = key
    st.session_state["tab"] = TABS[0]


def _hide_alert() -> None:
    st.session_state["alert"] = None
    st.session_state["page_number"] = 1


def _set_tab(names: dict[str, str]) -> None:
    st.session_state["tab"] = names.get(st.session_state[widget_key("tab")], TABS[0])


def page_tabs(n_alerts: int) -> list[Any]:
    """The page's tabs, the one in session key ``tab`` open; only the open one's content should run
    (each tab's ``.open``)."""
    labels = {TABS[0]: TABS[0], TABS[1]: f"{TABS[1]} ({n_alerts:,})", TABS[2]: TABS[2]}
    if st.session_state.get("tab") not in labels:
        st.session_state["tab"] = TABS[0]
    st.session_state[widget_key("tab")] = labels[st.session_state["tab"]]
    names = {label: name for name, label in labels.items()}
    return list(st.tabs(list(labels.values()), key=widget_key("tab"), on_change=_set_tab, args=(names,)))


def insights_summary(run: Run, split: str, insights: StoredSplit, rows: RowSet) -> None:
    """How many of the split's samples the filters keep and the chosen metric on them."""
    s = st.session_state
    if s["metric"] not in METRIC_NAMES:
        s["metric"] = "f1"
    size_col, metric_col, picker_col = st.columns([2, 3, 3], vertical_alignment="bottom")
    with picker_col:
        st.segmented_control(
            "Metric",
            list(METRIC_NAMES),
            format_func=METRIC_LABELS.get,
            required=True,
            **mirror("metric", resets_page=False),
        )
    metric = s["metric"]
    size_col.metric(
        "Samples", f"{len(rows):,}", help=f"of {insights.samples.n_rows:,} in {split_title(split)}", border=True
    )
    labels, preds = rows.codes("label"), rows.codes("pred")
    label, value, help_text = _metric_shown(metric, split, insights, rows, labels, preds, len(run.labels))
    overall = insights.summary["metrics"].get(SUMMARY_KEYS[metric])
    compared = value is not None and overall is not None and not rows.is_whole
    metric_col.metric(
        label,
        "–" if value is None else f"{value:.3f}",
        border=True,
        delta=f"{value - overall:+.3f}" if compared else None,
        delta_description=f"vs {split}" if compared else None,
        help=help_text,
    )


def single_class(flt: SampleFilter, map_selected: bool) -> str | None:
    """The class a filter singles out: exactly one ground-truth and/or predicted class and nothing else.

    >>> single_class({"label": ["billing"]}, False), single_class({"label": ["a"], "dep": {"min": 0.5}}, False)
    ('billing', None)
    """
    if map_selected or not flt or set(flt) - {"label", "pred"}:
        return None
    classes = {c for column in ("label", "pred") for c in flt.get(column, [])}
    lists_of_one = all(len(flt[column]) == 1 for column in flt)
    return classes.pop() if lists_of_one and len(classes) == 1 else None


def _metric_shown(
    metric: str, split: str, insights: StoredSplit, rows: RowSet, labels: Any, preds: Any, n_classes: int
) -> tuple[str, float | None, str]:
    """The metric box's label, value and help: what the number is, said plainly.

    One class filtered (by ground truth or prediction): that class's own one-vs-rest score on the
    whole split, not a macro average over whatever classes the filtered rows happen to hold.
    """
    name = METRIC_LABELS[metric]
    if rows.is_whole:
        help_text = "Accuracy of the split" if metric == "accuracy" else f"Macro {name} over the classes of the split"
        return name, metric_value(metric, labels, preds, n_classes), help_text
    cls = single_class(state_filter(insights), st.session_state["selected_ids"] is not None)
    report = insights.class_report.set_index("label")
    if cls is not None and metric != "accuracy" and cls in report.index:
        value = report.loc[cls, metric]
        return (
            f"{name} of {cls}",
            None if pd.isna(value) else float(value),
            f"The class's own {name.lower()}, one-vs-rest over all of {split} (not only the rows shown).",
        )
    value = metric_value(metric, labels, preds, n_classes)
    if metric == "accuracy":
        return "Accuracy of these rows", value, f"Share of these {len(rows):,} rows predicted as their ground truth."
    return (
        f"{name} of these rows",
        value,
        f"Macro {name.lower()} over the classes present in these {len(rows):,} rows, each class scored "
        "one-vs-rest within them.",
    )


def alert_list(alerts: list[Alert]) -> None:
    """One button an alert, high severity first; the active one is highlighted and can be hidden."""
    if not alerts:
        st.success("No alert: nothing stands out in this split.", icon=":material/check_circle:")
        return
    active = st.session_state["alert"]
    st.caption("Click an alert to see its samples.")
    for i, alert in enumerate(alerts):
        key = alert_key(alerts, i)
        st.button(
            escape_markdown(alert.message),
            key=f"alert_{key}",
            icon=SEVERITY_ICONS.get(alert.severity),
            type="primary" if key == active else "secondary",
            on_click=_show_alert,
            args=(key,),
            help=f"{alert.severity} severity · {alert.count:,} samples · rule: {escape_markdown(alert.rule)}",
            width="stretch",
        )
    if active is not None:
        st.button("Show all samples again", key="alert_clear", icon=":material/close:", on_click=_hide_alert)


def metrics_charts(run: Run, split: str, insights: StoredSplit, rows: RowSet) -> None:
    """The per-class, pair, overlap and DEP charts of the filtered rows, in two columns; clicks filter."""
    if not len(rows):
        st.info("No sample matches these filters.")
        return
    metric = st.session_state["metric"]
    tag = view_key(split)
    view = f"{id(insights)}:{tag}"  # the same filtered rows -> the same charts
    _, agg = charts.view_aggregates(view, insights, rows, tuple(run.labels))
    st.caption(
        "Charts follow the filters; click a bar or a row to filter the samples to it (Samples tab). "
        "Hover a bar for its class's full name and numbers."
    )
    by_class, between = st.columns([2, 3], gap="large")
    with by_class:
        _class_charts(agg, metric, tag)
    with between:
        _pair_charts(agg, tag)


def _class_charts(agg: charts.Aggregates, metric: str, tag: str) -> None:
    title = charts.PER_CLASS[metric][1]
    _chart_section(
        f"{title} by class",
        "class",
        f"chart_metric_{metric}_{tag}",
        charts.metric_by_class(agg.classes, metric) if len(agg.classes) else None,
        scroll=len(agg.classes),
    )
    _chart_section(
        "Samples by class (:red[misclassified] part in red)",
        "class",
        f"chart_count_{tag}",
        charts.count_by_class(agg.classes) if agg.classes["support"].any() else None,
        scroll=int((agg.classes["support"] > 0).sum()),
    )


def _pair_charts(agg: charts.Aggregates, tag: str) -> None:
    st.markdown("**Overlapping classes**")
    if len(agg.overlap):
        charts.clickable_table(
            agg.overlap, key=f"table_overlap_{tag}", kind="overlap", columns=charts.overlap_columns()
        )
    else:
        st.caption("No two classes share probability in these samples.")
    st.markdown("**Top misclassified pairs**")
    if len(agg.pairs):
        charts.clickable_table(
            agg.pairs, key=f"table_pairs_{tag}", kind="pair", columns=charts.pairs_columns(agg.pairs)
        )
    else:
        st.caption("No misclassified sample here.")
    _chart_section(
        "DEP distribution (:red[misclassified] in red)", "dep", f"chart_dep_{tag}", charts.dep_chart(agg.dep)
    )


def _chart_section(title: str, kind: str, key: str, chart: object, *, scroll: int = 0) -> None:
    st.markdown(f"**{title}**")
    if chart is None:
        st.caption("Nothing to show for these samples.")
        return
    if charts.bar_height(scroll) > charts.SCROLL_BOX_PX:
        with st.container(height=charts.SCROLL_BOX_PX, border=False):
            charts.clickable(chart, key=key, kind=kind)
    else:
        charts.clickable(chart, key=key, kind=kind)
