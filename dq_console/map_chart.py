"""The 2-D map of a split: the samples that pass the filters as one WebGL scatter trace (Plotly
``scattergl``) over a faint backdrop of the others; box and lasso selection.

Payload at scale: coordinates, colors and DEP go to the browser as base64 typed arrays (Plotly
encodes NumPy arrays that way), so a point costs about 14 bytes plus its hover text. The hover
text is the sample's text cut to at most :data:`HOVER_MAX_CHARS` characters, shorter when the map
holds so many points that the text would pass :data:`HOVER_CHAR_BUDGET`.

A selection is kept in ``st.session_state["selected_ids"]`` (the ids of the points, not their
positions), so it survives a change of color and filters the Dataset page too; its shapes go to
the URL (:mod:`dq_console.map_selection`).
"""

from __future__ import annotations

import functools
import html
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.colors import qualitative

from dq.errors import DQError
from dq.insights import StoredSplit
from dq.insights.split_rows import SplitRows, top_by_dep
from dq_console.filters import filter_mask
from dq_console.map_selection import selection_shapes
from dq_console.state import clear_filters

#: Points a map draws at most (a browser draws 200k WebGL points smoothly; millions stall it): above,
#: the MAP_TOP_DEP highest DEPs and a seeded sample of the other shown samples (``drawn_rows``).
MAP_POINTS_MAX = 200_000
MAP_TOP_DEP = 20_000
#: The color control: its choices and the frame column each stands for.
COLOR_CHOICES = {"DEP": "dep", "Label": "label", "Prediction": "pred", "Cluster": "cluster"}
#: DEP runs from a pale blue-grey (most samples, fine) to dark red (likely errors), drawn on top.
DEP_COLORSCALE = [[0.0, "#c9d3e0"], [0.35, "#8fa8c8"], [0.6, "#f4a261"], [0.8, "#e76f51"], [1.0, "#9b1120"]]
#: Categories cycle through these 48 colors; with more categories, colors repeat.
CATEGORY_PALETTE = tuple(qualitative.Dark24 + qualitative.Light24)
#: Up to this many categories get a legend; more would crowd the map (hover names the category).
LEGEND_MAX = 15
#: Hover text per point: the sample's text cut to at most HOVER_MAX_CHARS characters, then its label
#: (and prediction when different). Past HOVER_CHAR_BUDGET characters for the whole map, each
#: point's text is cut shorter, down to HOVER_MIN_CHARS: about 6 MB of hover text at 100k points.
HOVER_MAX_CHARS = 120
HOVER_MIN_CHARS = 30
HOVER_CHAR_BUDGET = 6_000_000
#: Marker size by number of points (WebGL draws them all; small markers keep dense maps readable).
MARKER_SIZES = ((2_000, 7), (20_000, 4), (None, 3))
MAP_HEIGHT = 640
#: Samples the filters leave out are shown underneath as a grey density of this many cells across;
#: the samples are trace 1. The frame is the whole split's extent plus this share on each side.
HIDDEN_COLOR = "#e6eaf0"
BACKDROP_BINS = 220
SAMPLE_CURVE = 1
MAP_PADDING = 0.03
#: Unselected points fade to this opacity while a selection is shown.
UNSELECTED_OPACITY = 0.12
SEED = 0


@dataclass(frozen=True)
class MapPoints:
    """What the map draws, in drawing order: ids (to turn a selection into ids) and the figure."""

    ids: np.ndarray
    figure: go.Figure


def hover_chars(n_points: int) -> int:
    """Characters of hover text (text, label and prediction) a point may use on a map of ``n_points``.

    >>> hover_chars(10_000), hover_chars(100_000), hover_chars(1_000_000)
    (600, 60, 6)
    """
    return int(HOVER_CHAR_BUDGET // max(n_points, 1))


def inert(text: Any) -> str:
    """Text made safe for Plotly's hover and legend labels, which render a few HTML tags.

    >>> inert("<b>x</b> & y")
    '&lt;b&gt;x&lt;/b&gt; &amp; y'
    """
    return html.escape("" if _missing(text) else str(text), quote=False)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value) or value is pd.NA


def _shorten(text: str, limit: int) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def hover_texts(points: pd.DataFrame, per_point: int) -> tuple[np.ndarray, np.ndarray]:
    """Two hover strings per point: its text (cut), and its label with the prediction when different.

    ``per_point`` is the point's share of :data:`HOVER_CHAR_BUDGET`; the label is kept whole and
    the text gets what is left (within HOVER_MIN_CHARS .. HOVER_MAX_CHARS). Both are inert.
    """
    texts, tails = np.empty(len(points), dtype=object), np.empty(len(points), dtype=object)
    for i, (text, label, pred) in enumerate(zip(points["text"], points["label"], points["pred"])):
        label = "(unlabeled)" if _missing(label) else str(label)
        tails[i] = inert(label if label == pred else f"{label} (predicted {pred})")
        limit = min(HOVER_MAX_CHARS, max(HOVER_MIN_CHARS, per_point - len(tails[i])))
        texts[i] = inert(_shorten(text, limit))
    return texts, tails


def _marker_size(n: int) -> int:
    return next(size for limit, size in MARKER_SIZES if limit is None or n <= limit)


def _stepped_colorscale(n: int) -> list[list[Any]]:
    """A colorscale with one flat step per category code 0..n-1 (cycling the palette)."""
    scale: list[list[Any]] = []
    for i in range(n):
        color = CATEGORY_PALETTE[i % len(CATEGORY_PALETTE)]
        scale += [[i / n, color], [(i + 1) / n, color]]
    return scale


def _category_names(values: pd.Series, column: str) -> tuple[np.ndarray, list[str]]:
    """Integer codes and names of the categories of ``column`` (unlabeled samples included)."""
    if column == "cluster":
        codes, uniques = pd.factorize(values, sort=True)
        return codes.astype(np.int16), [f"Cluster {int(c)}" for c in uniques]
    filled = values.astype(object).where(values.notna(), "(unlabeled)")
    codes, uniques = pd.factorize(filled, sort=True)
    return codes.astype(np.int16), [str(u) for u in uniques]


def build_map(
    points: pd.DataFrame, *, color: str, selected_ids: Sequence[Any] | None, hidden: np.ndarray | None = None
) -> MapPoints:
    """The map's figure for ``points`` (columns x, y, id, text, label, pred, dep, cluster).

    ``color`` is a key of :data:`COLOR_CHOICES`. DEP maps draw the highest DEP last (on top);
    category maps draw in a seeded shuffled order so no category hides another. ``hidden`` holds
    the (m, 2) coordinates of the samples the filters leave out: drawn faint and grey underneath
    (curve 0, no hover), they keep the map's frame and show where the shown samples sit.
    """
    column = COLOR_CHOICES[color]
    n = len(points)
    if column == "dep":
        order = np.argsort(points["dep"].fillna(0).to_numpy(), kind="stable")
    else:
        order = np.random.default_rng(SEED).permutation(n)
    points = points.iloc[order]
    dep = points["dep"].to_numpy(dtype=np.float32)
    marker: dict[str, Any] = {"size": _marker_size(n), "opacity": 0.85 if n <= 20_000 else 0.7}
    legend: list[go.Scattergl] = []
    if column == "dep":
        marker.update(
            color=np.nan_to_num(dep),
            colorscale=DEP_COLORSCALE,
            cmin=0.0,
            cmax=1.0,
            showscale=True,
            colorbar={"title": {"text": "DEP"}, "thickness": 12, "len": 0.6},
        )
    else:
        codes, names = _category_names(points[column], column)
        k = max(len(names), 1)
        marker.update(color=codes, colorscale=_stepped_colorscale(k), cmin=0, cmax=k, showscale=False)
        if len(names) <= LEGEND_MAX:
            legend = [go.Scattergl(x=[None], y=[None], mode="markers", name=inert(name), hoverinfo="skip",
                                   marker={"size": 9, "color": CATEGORY_PALETTE[i % len(CATEGORY_PALETTE)]})
                      for i, name in enumerate(names)]  # fmt: skip
    ids = points["id"].to_numpy()
    hover_text, hover_label = hover_texts(points, hover_chars(n))
    trace = go.Scattergl(
        x=points["x"].to_numpy(dtype=np.float32), y=points["y"].to_numpy(dtype=np.float32),
        mode="markers", marker=marker, showlegend=False, name="samples",
        hovertext=hover_text, text=hover_label, customdata=dep,
        # Separate fields rather than one string with <br> per point: Plotly's JSON escapes "<" as \u003c.
        hovertemplate="%{hovertext}<br><i>%{text}</i><br>DEP %{customdata:.2f}<extra></extra>",
        unselected={"marker": {"opacity": UNSELECTED_OPACITY}},
    )  # fmt: skip
    if selected_ids is not None:
        trace.selectedpoints = np.flatnonzero(np.isin(ids, np.asarray(list(selected_ids), dtype=ids.dtype))).tolist()
    shown = points[["x", "y"]].to_numpy(dtype=np.float32)
    hidden = np.empty((0, 2), dtype=np.float32) if hidden is None else np.asarray(hidden, dtype=np.float32)
    lo, hi = _extent(np.concatenate([shown, hidden]))
    figure = go.Figure([_backdrop(hidden, lo, hi), trace, *legend])
    figure.update_layout(
        height=MAP_HEIGHT, margin={"l": 0, "r": 0, "t": 10, "b": 0}, dragmode="select",
        uirevision="map", showlegend=bool(legend), hovermode="closest",
        legend={"orientation": "h", "y": -0.02, "font": {"size": 11}},
        # The whole split's frame, so that filtering does not zoom the map.
        xaxis={"visible": False, "range": [lo[0], hi[0]]}, yaxis={"visible": False, "range": [lo[1], hi[1]]},
    )  # fmt: skip
    return MapPoints(ids=ids, figure=figure)


def _extent(xy: np.ndarray) -> tuple[list[float], list[float]]:
    """Lower and upper corners of the frame around ``xy``, padded by MAP_PADDING on each side."""
    if not len(xy):
        return [0.0, 0.0], [1.0, 1.0]
    lo, hi = xy.min(axis=0).astype(np.float64), xy.max(axis=0).astype(np.float64)
    pad = np.maximum((hi - lo) * MAP_PADDING, 1e-3)
    return (lo - pad).tolist(), (hi + pad).tolist()


def _backdrop(hidden: np.ndarray, lo: list[float], hi: list[float]) -> go.Heatmap:
    """Where the filtered-out samples lie, as a faint grey density (a few kB whatever their number).

    A heatmap rather than points: it is not selectable, so a box or lasso picks only the samples shown.
    """
    step = max(hi[0] - lo[0], hi[1] - lo[1]) / BACKDROP_BINS
    nx, ny = (int(np.ceil((high - low) / step)) + 1 for low, high in zip(lo, hi)) if len(hidden) else (1, 1)
    counts, _, _ = np.histogram2d(
        hidden[:, 0], hidden[:, 1], bins=(nx, ny), range=((lo[0], lo[0] + nx * step), (lo[1], lo[1] + ny * step))
    )
    z = np.where(counts.T > 0, 1.0, np.nan).astype(np.float32)  # empty cells stay transparent
    return go.Heatmap(
        z=z, x0=lo[0] + step / 2, dx=step, y0=lo[1] + step / 2, dy=step, hoverinfo="skip", showscale=False,
        colorscale=[[0, HIDDEN_COLOR], [1, HIDDEN_COLOR]], name="filtered out",
    )  # fmt: skip


def selection_ids(selection: dict[str, Any], ids: np.ndarray) -> list[Any] | None:
    """The ids of a Plotly selection event of the map's sample trace; None when it was cleared."""
    points = selection.get("points") or []
    positions = [p["point_index"] for p in points if p.get("curve_number") == SAMPLE_CURVE and "point_index" in p]
    positions = [i for i in positions if 0 <= i < len(ids)]  # an event from a map drawn before a rerun
    if not positions and not (selection.get("box") or selection.get("lasso")):
        return None  # a double-click that cleared the selection
    return ids[np.asarray(positions, dtype=np.int64)].tolist()


def shown_mask(insights: StoredSplit) -> np.ndarray:
    """The rows the map shows: those passing the filters, whatever the map selection (bool array).

    Filters that cannot be applied (a broken regular expression) are said so and stop the page.
    """
    try:
        return filter_mask(insights)
    except DQError as exc:
        st.error("The current filters cannot be applied:")
        st.text(str(exc))
        st.button("Clear filters", on_click=clear_filters)
        st.stop()


def clear_selection() -> None:
    """Forget the map selection (a widget callback)."""
    st.session_state["selected_ids"] = None
    st.session_state["map_selection"] = ""
    st.session_state["page_number"] = 1


def _on_select(key: str, ids: np.ndarray, sampled: bool) -> None:
    event = st.session_state.get(key) or {}
    selection = event.get("selection") or {}
    selected = selection_ids(selection, ids)
    shapes = "" if selected is None else selection_shapes(selection)
    # On a map that draws a sample of its points, a box or lasso takes every shown sample inside
    # it: its shapes are kept and the page finds their ids among all the rows (picker, restore).
    st.session_state["selected_ids"] = None if sampled and shapes else selected
    st.session_state["map_selection"] = shapes
    st.session_state["page_number"] = 1


def drawn_rows(rows: np.ndarray, dep: np.ndarray, *, limit: int, top: int) -> np.ndarray:
    """The rows of ``rows`` the map draws, ascending: all of them up to ``limit``; beyond, the ``top``
    highest DEPs (``dep``: the rows' DEP) and a seeded sample of the others, ``limit`` in all.

    >>> drawn = drawn_rows(np.arange(10, 20), np.linspace(0, 1, 10), limit=4, top=2).tolist()
    >>> len(drawn), drawn[-2:], drawn == sorted(drawn)  # the two highest DEPs among the four
    (4, [18, 19], True)
    """
    if len(rows) <= limit:
        return rows
    first = top_by_dep(dep, min(top, limit))
    others = np.setdiff1d(np.arange(len(rows)), first, assume_unique=True)
    sample = np.random.default_rng(SEED).choice(others, limit - len(first), replace=False)
    return rows[np.sort(np.concatenate([first, sample]))]


def show_map(xy: np.ndarray, samples: SplitRows, mask: np.ndarray, *, color: str, key: str = "map") -> None:
    """Draw the rows of ``samples`` under ``mask`` at their ``xy`` coordinates (at most
    :data:`MAP_POINTS_MAX` of them: see :func:`drawn_rows`); a selection sets ``selected_ids``
    (or, on a sampled map, the shapes every shown sample inside is found by). The drawn rows'
    columns are read for this drawing only."""
    shown = np.flatnonzero(mask)
    rows = drawn_rows(shown, samples.column("dep")[shown].astype(np.float64), limit=MAP_POINTS_MAX, top=MAP_TOP_DEP)
    sampled = len(rows) < len(shown)
    points = samples.take(rows, ["id", "text", "label", "pred", "dep", "cluster"]).reset_index(drop=True)
    points["x"], points["y"] = xy[rows, 0], xy[rows, 1]
    undrawn = np.ones(len(xy), dtype=bool)
    undrawn[rows] = False  # filtered out, or shown but not drawn: the faint backdrop
    drawn = build_map(points, color=color, selected_ids=st.session_state.get("selected_ids"), hidden=xy[undrawn])
    st.plotly_chart(
        drawn.figure, key=key, on_select=functools.partial(_on_select, key, drawn.ids, sampled),
        selection_mode=("box", "lasso"), config={"displaylogo": False, "scrollZoom": True},
    )  # fmt: skip
    if sampled:
        st.caption(
            f"Drawn: {len(rows):,} of the {len(shown):,} samples shown (the {min(MAP_TOP_DEP, len(rows)):,} highest "
            "DEPs and a fixed sample of the others; the rest in the grey backdrop). A box or lasso selects every "
            "shown sample inside it, drawn or not."
        )
