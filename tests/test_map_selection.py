"""The map selection's shapes: written from a Plotly selection event, read back into the same points."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dq_console.map_selection import MAX_LASSO_VERTICES, POINTS_PER_BLOCK, selection_shapes, shapes_mask

coords = st.floats(min_value=-50, max_value=50, allow_nan=False, allow_infinity=False)


@settings(max_examples=60, deadline=None)
@given(x0=coords, x1=coords, y0=coords, y1=coords, seed=st.integers(0, 2**16))
def test_a_box_written_and_read_back_selects_the_points_inside_it(
    x0: float, x1: float, y0: float, y1: float, seed: int
) -> None:
    xy = np.random.default_rng(seed).uniform(-60, 60, size=(300, 2)).round(1)
    shapes = selection_shapes({"box": [{"x": [x0, x1], "y": [y0, y1]}]})
    lo_x, hi_x = sorted((round(x0, 3), round(x1, 3)))
    lo_y, hi_y = sorted((round(y0, 3), round(y1, 3)))
    expected = (xy[:, 0] >= lo_x) & (xy[:, 0] <= hi_x) & (xy[:, 1] >= lo_y) & (xy[:, 1] <= hi_y)
    assert shapes_mask(xy, shapes).tolist() == expected.tolist()


def test_a_lasso_selects_inside_its_polygon_even_a_concave_one() -> None:
    # A "U": the notch between its arms is outside.
    u = [0, 0, 3, 0, 3, 3, 2, 3, 2, 1, 1, 1, 1, 3, 0, 3]
    shapes = selection_shapes({"lasso": [{"x": u[0::2], "y": u[1::2]}]})
    xy = np.array([[0.5, 2.0], [1.5, 2.0], [2.5, 2.0], [1.5, 0.5], [4.0, 1.0]])
    assert shapes_mask(xy, shapes).tolist() == [True, False, True, True, False]


def test_a_long_lasso_is_thinned_and_several_shapes_add_up() -> None:
    angle = np.linspace(0, 2 * np.pi, 1_000, endpoint=False)
    circle = {"x": np.cos(angle).tolist(), "y": np.sin(angle).tolist()}
    shapes = selection_shapes({"lasso": [circle], "box": [{"x": [9, 11], "y": [9, 11]}]})
    lasso = next(s for s in shapes.split(";") if s.startswith("lasso:"))
    assert len(lasso.split(",")) <= 2 * MAX_LASSO_VERTICES
    xy = np.array([[0.0, 0.0], [0.9, 0.0], [1.2, 0.0], [10.0, 10.0]])
    assert shapes_mask(xy, shapes).tolist() == [True, True, False, True]


def test_many_points_are_tested_in_blocks_with_the_same_answer() -> None:
    xy = np.random.default_rng(0).uniform(-2, 2, size=(3 * POINTS_PER_BLOCK + 17, 2))
    square = "lasso:-1,-1,1,-1,1,1,-1,1"
    expected = (np.abs(xy) < 1).all(axis=1)
    assert np.array_equal(shapes_mask(xy, square), expected)


@pytest.mark.parametrize(
    "text", ["circle:1,2,3", "box:1,2,3", "box:a,b,c,d", "lasso:1,2,3,4", "box:nan,1,2,3", "box:inf,1,2,3", ""]
)
def test_a_link_edited_by_hand_is_refused_not_guessed(text: str) -> None:
    assert shapes_mask(np.zeros((3, 2)), text) is None
