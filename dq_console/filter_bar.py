"""The Dataset page's filter bar, in the sidebar below the picker.

Each widget mirrors a key of :mod:`app.state` (the keys the URL carries) through a widget key of
its own (``w_<key>``): Streamlit drops a widget's value when the widget is not drawn (another page),
while the mirrored key survives, so the filters stay set across pages and come back from the URL.
Charts and alert buttons change the state keys directly; the widgets pick the change up on the
next run.
"""

from __future__ import annotations

import re
from typing import Any

import streamlit as st

from dq.insights import StoredSplit
from dq.insights.compute import FRAME_COLUMNS
from dq.insights.split_rows import SplitRows
from dq.store import Run
from dq_console.filters import filter_summary, find_alert, parse_meta
from dq_console.state import FILTER_KEYS, URL_KEYS, clear_filters

#: Columns the insights add to a split's samples; every other column of the frame is metadata.
INSIGHT_COLUMNS = frozenset(FRAME_COLUMNS)
#: A metadata column with at most this many distinct values gets a list of them; others a text box.
META_CHOICES_MAX = 200
#: Step of the DEP range slider.
DEP_STEP = 0.01
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")
#: Session key of the metadata column picked before a value is (it is not in the URL until then).
_META_PICK = "_meta_column_pick"


def escape_markdown(text: str) -> str:
    """``text`` with every markdown-special character backslash-escaped: shown literally where
    Streamlit renders markdown (button labels, captions)."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", str(text))


def widget_key(key: str) -> str:
    """The widget key that mirrors state ``key``."""
    return f"w_{key}"


def mirror(key: str, *, resets_page: bool = True) -> dict[str, Any]:
    """Give the widget of state ``key`` its current value; keyword arguments for the widget call."""
    st.session_state[widget_key(key)] = st.session_state[key]
    return {"key": widget_key(key), "on_change": _copy_back, "args": (key, resets_page)}


def _copy_back(key: str, resets_page: bool) -> None:
    st.session_state[key] = st.session_state[widget_key(key)]
    if resets_page:
        st.session_state["page_number"] = 1


def _set_dep_range() -> None:
    low, high = st.session_state[widget_key("dep")]
    st.session_state["dep_min"], st.session_state["dep_max"] = float(low), float(high)
    st.session_state["page_number"] = 1


def _set_meta_column() -> None:
    # A column without a value filters nothing yet: remember the choice apart from "meta".
    st.session_state[_META_PICK] = st.session_state[widget_key("meta_column")]
    st.session_state["meta"] = ""
    st.session_state["page_number"] = 1


def _set_meta_value() -> None:
    column = st.session_state.get(_META_PICK)
    value = st.session_state.get(widget_key("meta_value"))
    st.session_state["meta"] = f"{column}={value}" if column and value not in (None, "") else ""
    st.session_state["page_number"] = 1


def _clear() -> None:
    clear_filters()
    st.session_state.pop(_META_PICK, None)


def metadata_columns(samples: SplitRows) -> list[str]:
    """The split's metadata columns (logged beside text and label), in the file's order."""
    return [c for c in samples.columns if c not in INSIGHT_COLUMNS]


def has_filters() -> bool:
    """Whether any filter (or a map selection) narrows the split."""
    s = st.session_state
    return s.get("selected_ids") is not None or any(s[k] != URL_KEYS[k] for k in FILTER_KEYS)


def _keep_known(key: str, options: list[Any]) -> None:
    """Drop values the widget does not offer (a stale URL, another run's classes)."""
    known = set(options)
    values = [v for v in st.session_state[key] if v in known]
    if values != list(st.session_state[key]):
        st.session_state[key] = values


def filter_bar(run: Run, insights: StoredSplit) -> None:
    """Draw the filters in the sidebar; they change session state (and so the URL)."""
    s = st.session_state
    clusters = [int(c) for c in insights.samples.distinct("cluster", limit=insights.samples.n_rows)]
    keywords = _cluster_keywords(insights)
    for key, options in (("label", run.labels), ("pred", run.labels), ("cluster", clusters)):
        _keep_known(key, options)
    with st.sidebar:
        st.subheader("Filters")
        s[widget_key("dep")] = (float(s["dep_min"]), float(s["dep_max"]))
        st.slider(
            "DEP range",
            0.0,
            1.0,
            step=DEP_STEP,
            format="%.2f",
            key=widget_key("dep"),
            on_change=_set_dep_range,
            help="Data Error Potential: 0 = looks fine, 1 = likeliest a data error.",
        )
        st.multiselect("Ground truth", run.labels, placeholder="Any class", **mirror("label"))
        st.multiselect("Prediction", run.labels, placeholder="Any class", **mirror("pred"))
        st.toggle("Misclassified only", **mirror("misclassified"))
        st.toggle("Likely mislabeled only", **mirror("mislabeled"))
        st.multiselect(
            "Cluster",
            clusters,
            placeholder="Any cluster",
            format_func=lambda c: f"{c} · {keywords.get(c, '')}".rstrip(" ·"),
            **mirror("cluster"),
        )
        st.text_input("Search text", placeholder="substring, or a regex", **mirror("q"))
        st.toggle("Regular expression", **mirror("regex"))
        _metadata_filter(insights.samples)
        _active_filters(insights)


def _cluster_keywords(insights: StoredSplit) -> dict[int, str]:
    table = insights.clusters
    if table.empty or "top_words" not in table:
        return {}
    return {int(c): ", ".join(list(words)[:3]) for c, words in zip(table["cluster"], table["top_words"])}


def _metadata_filter(samples: SplitRows) -> None:
    columns = metadata_columns(samples)
    if not columns:
        return
    s = st.session_state
    column, value = next(iter(parse_meta(s["meta"]).items()), (s.get(_META_PICK), None))
    s[widget_key("meta_column")] = column if column in columns else None
    st.selectbox(
        "Metadata column",
        columns,
        index=None,
        placeholder="No metadata filter",
        key=widget_key("meta_column"),
        on_change=_set_meta_column,
    )
    if s[widget_key("meta_column")] is None:
        return
    column = s[_META_PICK] = s[widget_key("meta_column")]
    distinct = samples.distinct(column, limit=META_CHOICES_MAX + 1)
    if len(distinct) <= META_CHOICES_MAX:
        choices = sorted(str(v) for v in distinct)
        s[widget_key("meta_value")] = value if value in choices else None
        st.selectbox(
            f"{column} is",
            choices,
            index=None,
            placeholder="Pick a value",
            key=widget_key("meta_value"),
            on_change=_set_meta_value,
        )
    else:
        s[widget_key("meta_value")] = value or ""
        st.text_input(
            f"{column} is", placeholder="exact value", key=widget_key("meta_value"), on_change=_set_meta_value
        )


def _active_filters(insights: StoredSplit) -> None:
    st.caption("Active filters")
    alert = find_alert(insights.alerts, st.session_state["alert"])
    if alert is not None:
        st.caption(f"Alert: {escape_markdown(alert.message)}")
    # Plain text: the summary quotes class names and search text, which come from the data.
    st.code(filter_summary(insights) if has_filters() else "all samples", language=None, wrap_lines=True)
    st.button(
        "Clear filters", on_click=_clear, icon=":material/filter_alt_off:", disabled=not has_filters(), width="stretch"
    )
