"""The map selection as shapes, so that it lives in the URL: a copied link reopens it.

A box or lasso drawn on the map is kept twice: as the selected ids (session key ``selected_ids``,
what the filters use) and as its shapes in map coordinates (session and URL key ``map_selection``), e.g.
``box:-1.2,3.4,0.5,2.25`` or ``lasso:x1,y1,x2,y2,...``, several shapes joined by ``;``. A session
opened from a link has the shapes only: :func:`restore_selection` finds the points inside them
again, among the samples that pass the same filters (those the map showed when they were drawn).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import streamlit as st

from dq.errors import DQError
from dq.insights import StoredSplit
from dq_console.filters import filter_mask

#: Decimals kept of a coordinate (the map spans tens of units: a thousandth is far below a point).
DECIMALS = 3
#: A lasso keeps at most this many vertices in the URL (every k-th one of a longer path).
MAX_LASSO_VERTICES = 120
#: Points tested against a lasso at a time.
POINTS_PER_BLOCK = 8_192


def _numbers(values: Any) -> list[str]:
    return [f"{round(float(v), DECIMALS):g}" for v in values]


def selection_shapes(selection: dict[str, Any]) -> str:
    """The boxes and lassos of a Plotly selection event as text ("" when it has none).

    >>> selection_shapes({"box": [{"x": [2.0, -1.0], "y": [0.5, 3.25]}]})
    'box:-1,2,0.5,3.25'
    """
    shapes = []
    for box in selection.get("box") or []:
        xs, ys = sorted(map(float, box["x"])), sorted(map(float, box["y"]))
        shapes.append("box:" + ",".join(_numbers([xs[0], xs[-1], ys[0], ys[-1]])))
    for lasso in selection.get("lasso") or []:
        xs, ys = list(lasso["x"]), list(lasso["y"])
        step = max(1, -(-len(xs) // MAX_LASSO_VERTICES))
        pairs = [v for x, y in zip(xs[::step], ys[::step], strict=True) for v in (x, y)]
        shapes.append("lasso:" + ",".join(_numbers(pairs)))
    return ";".join(shapes)


def _inside_polygon(xy: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    # In blocks of points: a block times the vertices stays a few MB whatever the split's size.
    return np.concatenate(
        [_inside_block(xy[i : i + POINTS_PER_BLOCK], polygon) for i in range(0, len(xy), POINTS_PER_BLOCK)]
        or [np.zeros(0, dtype=bool)]
    )


def _inside_block(xy: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    # Even-odd rule: count the polygon's edges crossed by a ray from each point towards +x.
    x, y = xy[:, 0][:, None], xy[:, 1][:, None]
    x0, y0 = polygon[:, 0][None, :], polygon[:, 1][None, :]
    x1, y1 = np.roll(polygon[:, 0], -1)[None, :], np.roll(polygon[:, 1], -1)[None, :]
    spans = (y0 > y) != (y1 > y)
    with np.errstate(divide="ignore", invalid="ignore"):
        cross_x = x0 + (y - y0) * (x1 - x0) / (y1 - y0)
    return np.asarray((spans & (x < cross_x)).sum(axis=1) % 2 == 1)


def shapes_mask(xy: np.ndarray, shapes: str) -> np.ndarray | None:
    """Which points of ``xy`` ((n, 2) map coordinates) lie inside any of ``shapes``; None when the
    text is not a selection this module wrote (a link edited by hand).

    >>> xy = np.array([[0.0, 0.0], [2.0, 2.0], [5.0, 5.0]])
    >>> shapes_mask(xy, "box:-1,3,-1,3").tolist(), shapes_mask(xy, "lasso:4,4,6,4,6,6,4,6").tolist()
    ([True, True, False], [False, False, True])
    >>> shapes_mask(xy, "circle:1,2") is None
    True
    """
    mask = np.zeros(len(xy), dtype=bool)
    for shape in shapes.split(";"):
        kind, _, numbers = shape.partition(":")
        try:
            values = np.array([float(v) for v in numbers.split(",")], dtype=np.float64)
        except ValueError:
            return None
        if not np.isfinite(values).all():
            return None
        if kind == "box" and len(values) == 4:
            x0, x1, y0, y1 = values
            mask |= (xy[:, 0] >= x0) & (xy[:, 0] <= x1) & (xy[:, 1] >= y0) & (xy[:, 1] <= y1)
        elif kind == "lasso" and len(values) >= 6 and len(values) % 2 == 0:
            mask |= _inside_polygon(xy, values.reshape(-1, 2))
        else:
            return None
    return mask


def restore_selection(insights: StoredSplit, xy: np.ndarray) -> None:
    """Turn the shapes of a linked selection (session key ``map_selection``) into its ids, among the samples
    that pass the filters; a selection that cannot be read is dropped."""
    s = st.session_state
    fits = len(xy) == insights.samples.n_rows
    mask = shapes_mask(np.asarray(xy, dtype=np.float64), s["map_selection"]) if fits else None
    if mask is None:
        s["map_selection"] = ""
        return
    try:
        shown = filter_mask(insights)
    except DQError:  # filters that cannot be applied: the page says so; nothing to select among
        return
    s["selected_ids"] = insights.samples.column("id")[mask & shown].tolist()


def needs_restore() -> bool:
    """True when the session has a linked selection's shapes but not yet its ids."""
    return bool(st.session_state.get("map_selection")) and st.session_state.get("selected_ids") is None
