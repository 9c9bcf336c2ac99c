"""The console's filters: session state -> one sample filter -> the filtered rows of a split.

Filtering happens on the server, as SQL over the split's cached insights file
(``dq.insights.split_rows``): a view is the positions of the rows it keeps, and pages only ever
ship a page of rows (or the map's points) to the browser.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import streamlit as st

from dq.insights import StoredSplit
from dq.insights.alerts import Alert
from dq.insights.filters import SampleFilter, describe_filter
from dq.insights.split_rows import RowSet, SplitRows
from dq_console.state import FILTER_KEYS


def alert_key(alerts: list[Alert], index: int) -> str:
    """A stable key for an alert of a split: its kind and its position among that kind."""
    kind = alerts[index].kind
    return f"{kind}:{sum(1 for a in alerts[:index] if a.kind == kind)}"


def find_alert(alerts: list[Alert], key: str | None) -> Alert | None:
    for i, alert in enumerate(alerts):
        if key and alert_key(alerts, i) == key:
            return alert
    return None


def parse_meta(raw: str) -> dict[str, str]:
    """``"lang=en;source=web"`` -> ``{"lang": "en", "source": "web"}``."""
    pairs = (part.split("=", 1) for part in raw.split(";") if "=" in part)
    return {k.strip(): v for k, v in pairs if k.strip()}


#: DuckDB's integer and float column types (a metadata value typed in is read as one of them).
_INTEGER_KINDS = frozenset({"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT"}) | {
    "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT",
}  # fmt: skip
_FLOAT_KINDS = frozenset({"FLOAT", "DOUBLE"})


def meta_value(samples: SplitRows, column: str, raw: str) -> Any:
    """``raw`` (text from a widget or the URL) as a value of ``column``'s type, so ``"3"`` matches 3."""
    if column not in samples.columns:
        return raw  # the filter names the unknown column
    kind = samples.kind(column)
    try:
        if kind == "BOOLEAN":
            return raw.strip().lower() in ("1", "true", "yes")
        if kind in _INTEGER_KINDS:
            return int(raw)
        if kind in _FLOAT_KINDS:
            return float(raw)
    except ValueError:
        return raw
    return raw


def state_filter(insights: StoredSplit, state: Any = None) -> SampleFilter:
    """The sample filter the current widgets (and a clicked alert) stand for."""
    s = state if state is not None else st.session_state
    flt: SampleFilter = {}
    if s["dep_min"] > 0 or s["dep_max"] < 1:
        flt["dep"] = {"min": float(s["dep_min"]), "max": float(s["dep_max"])}
    if s["label"]:
        flt["label"] = list(s["label"])
    if s["pred"]:
        flt["pred"] = list(s["pred"])
    if s["misclassified"]:
        flt["is_misclassified"] = True
    if s["mislabeled"]:
        flt["is_mislabeled"] = True
    if s["cluster"]:
        flt["cluster"] = [int(c) for c in s["cluster"]]
    if s["q"]:
        flt["text"] = {"regex": s["q"]} if s["regex"] else {"contains": s["q"]}
    for column, value in parse_meta(s["meta"]).items():
        flt[column] = meta_value(insights.samples, column, value)
    alert = find_alert(insights.alerts, s["alert"])
    if alert is not None:
        for column, condition in alert.filter.items():
            flt.setdefault(column, condition)
    return flt


def filter_mask(insights: StoredSplit) -> np.ndarray:
    """Which rows of the split pass the session's filters, whatever the map selection (bool array);
    filters that cannot be applied raise ``DQError``."""
    mask = np.zeros(insights.samples.n_rows, dtype=bool)
    mask[insights.samples.select(state_filter(insights)).positions] = True
    return mask


def view_key(split: str, state: Any = None) -> str:
    """A hash of everything that decides the filtered rows of ``split``: the filter state and the
    whole map selection. The rows are cached under it, and widgets keyed on it start afresh when
    the view changes."""
    s = state if state is not None else st.session_state
    ids = s.get("selected_ids")
    parts = [split, *(repr(s[k]) for k in FILTER_KEYS), "-" if ids is None else "\x1f".join(sorted(map(str, ids)))]
    return hashlib.sha1("\x1e".join(parts).encode()).hexdigest()[:16]


def filtered(insights: StoredSplit, state: Any = None) -> RowSet:
    """The rows of the split that pass the filters and the map selection, in the split's order (the
    table shows them highest DEP first: ``RowSet.page``).

    The result is shared between reruns and sessions showing the same view (paging, opening a
    sample and reloading the page do not filter again): never modify it in place.
    """
    s = state if state is not None else st.session_state
    _, rows = _filtered_rows(
        id(insights), view_key(insights.split, s), insights, state_filter(insights, s), s.get("selected_ids")
    )
    return rows


@st.cache_resource(show_spinner=False, max_entries=8)
def _filtered_rows(
    insights_id: int, key: str, _insights: StoredSplit, _flt: SampleFilter, _selected: Any
) -> tuple[StoredSplit, RowSet]:
    # Keyed on the identity of the (cached, shared) insights object and the view; the entry holds
    # the insights object, so its id cannot be reused by another split's insights while it lives.
    # In the split's order: the table ranks the page it shows by DEP (RowSet.page).
    return _insights, _insights.samples.select(_flt, ids=_selected)


def filter_summary(insights: StoredSplit) -> str:
    """The filters in words, the map selection included ("the 559 samples selected on the map")."""
    flt = state_filter(insights)
    selected = st.session_state.get("selected_ids")
    if selected is None:
        return describe_filter(flt)
    on_map = f"the {len(selected):,} samples selected on the map"
    return on_map if not flt else f"{describe_filter(flt)}, among {on_map}"
