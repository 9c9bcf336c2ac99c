"""AppTest of the Embeddings page over a tiny synthetic run logged with the public client.

AppTest cannot drag a box on a Plotly chart; the selection is set the way the chart's callback
sets it (``selected_ids``), and the callback's own arithmetic is tested on a hand-made event.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.io as pio
import pytest
from streamlit.testing.v1 import AppTest
from tiny_runs import LABELS, WORDS, log_tiny_run  # noqa: F401

import dq  # noqa: F401 - the run is logged through the public client
from dq_console.map_chart import build_map, hover_chars, selection_ids

APP_SCRIPT = Path(__file__).resolve().parent.parent / "dq_console" / "streamlit_app.py"
#: The first map of a process compiles UMAP's kernels (or loads them from numba's disk cache).
RUN_TIMEOUT_S = 120
HTML_TEXT = "<b>bold</b> & <img src=x onerror=alert(1)> invoice"


@pytest.fixture
def tiny_run(dq_home: Path) -> Path:
    log_tiny_run(dq_home, first_text=HTML_TEXT)
    return dq_home


def open_embeddings() -> AppTest:
    at = AppTest.from_file(str(APP_SCRIPT), default_timeout=RUN_TIMEOUT_S)
    at.run()
    at.switch_page("pages/embeddings.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def map_spec(at: AppTest) -> dict:
    (chart,) = at.get("plotly_chart")
    return json.loads(chart.proto.spec)


def shown_text(at: AppTest) -> str:
    kinds = ("title", "caption", "markdown", "info", "text", "error")
    return "\n".join(str(e.value) for kind in kinds for e in getattr(at, kind))


def test_map_shows_every_sample_colored_by_dep(tiny_run: Path) -> None:
    at = open_embeddings()

    assert at.title[0].value == "Embeddings"
    assert at.radio(key="map_color").options == ["DEP", "Label", "Prediction", "Cluster"]
    assert at.radio(key="map_color").value == "DEP"
    context, trace = map_spec(at)["data"][:2]
    assert context["type"] == "heatmap" and context["hoverinfo"] == "skip"
    assert trace["type"] == "scattergl"
    assert trace["marker"]["colorbar"]["title"]["text"] == "DEP"
    assert "bdata" in trace["x"]  # coordinates travel as base64 typed arrays
    assert "90 of 90 samples shown" in shown_text(at)
    assert "No points selected" in shown_text(at)
    # Sample text in the hover is inert: Plotly would render <b> and <img>.
    hover = " ".join(trace["hovertext"])
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; &lt;img src=x" in hover
    assert "<b>" not in hover and "<img" not in hover


def test_color_by_label_shows_a_legend_of_labels(tiny_run: Path) -> None:
    at = open_embeddings()

    at.radio(key="map_color").set_value("Label").run()

    assert not at.exception
    names = [t.get("name") for t in map_spec(at)["data"][2:]]
    assert names == LABELS
    at.radio(key="map_color").set_value("Cluster").run()
    assert all(name.startswith("Cluster ") for name in (t.get("name") for t in map_spec(at)["data"][2:]))


def test_a_selection_is_counted_shown_and_cleared(tiny_run: Path) -> None:
    at = open_embeddings()

    at.session_state["selected_ids"] = [0, 1, 2, 3]
    at.run()

    assert "4 points selected" in shown_text(at)
    assert len(map_spec(at)["data"][1]["selectedpoints"]) == 4
    (clear,) = [b for b in at.button if b.label == "Clear selection"]
    clear.click().run()
    assert at.session_state["selected_ids"] is None
    assert "No points selected" in shown_text(at)


def test_filters_narrow_the_map(tiny_run: Path) -> None:
    at = open_embeddings()

    at.session_state["label"] = ["login"]
    at.run()

    assert "30 of 90 samples shown (filtered)" in shown_text(at)
    context, trace = map_spec(at)["data"][:2]
    assert len(trace["hovertext"]) == 30
    assert context["type"] == "heatmap"  # the others as a faint backdrop, not selectable
    assert at.query_params["label"] == "login"  # the view is in the URL


def test_a_broken_regex_filter_is_reported_not_raised(tiny_run: Path) -> None:
    at = open_embeddings()

    at.session_state["q"] = "(unclosed"
    at.session_state["regex"] = True
    at.run()

    assert not at.exception
    assert "cannot be applied" in shown_text(at)
    assert len(at.get("plotly_chart")) == 0


def test_selection_event_becomes_ids() -> None:
    ids = np.array([10, 11, 12, 13])
    event = {
        "points": [
            {"curve_number": 1, "point_index": 3},
            {"curve_number": 1, "point_index": 1},
            {"curve_number": 0, "point_index": 0},
        ],
        "box": [{"x": [0, 1]}],
        "lasso": [],
    }
    assert selection_ids(event, ids) == [13, 11]
    assert selection_ids({"points": [], "box": [{"x": [0, 1]}], "lasso": []}, ids) == []  # an empty box
    assert selection_ids({"points": [], "box": [], "lasso": []}, ids) is None  # cleared


def test_map_payload_stays_bounded_at_100k_points() -> None:
    n = 100_000
    rng = np.random.default_rng(0)
    names = ["card_payment_wrong_exchange_rate", "balance_not_updated_after_bank_transfer", "activate_my_card"]
    label = rng.choice(names, n)
    points = pd.DataFrame({
        "id": np.arange(n), "text": [f"customer message {i} about a card that never arrived, " * 4 for i in range(n)],
        "label": label, "pred": np.where(rng.random(n) < 0.9, label, rng.choice(names, n)), "dep": rng.random(n),
        "cluster": rng.integers(0, 50, n), "x": rng.normal(size=n), "y": rng.normal(size=n),
    })  # fmt: skip

    for color in ("DEP", "Label"):
        size = len(pio.to_json(build_map(points, color=color, selected_ids=None).figure, validate=False))
        assert size < 12_000_000, (color, size)  # about 10 MB; the browser caches an unchanged map
    assert hover_chars(n) < hover_chars(1_000)


def test_a_large_map_draws_a_sample_and_a_box_still_takes_every_sample_inside(
    tiny_run: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dq_console.map_chart as map_chart
    from dq.insights import run_insights
    from dq.insights.maps import split_map
    from dq.store import Run

    monkeypatch.setattr(map_chart, "MAP_POINTS_MAX", 30)  # as 200,000 of millions
    monkeypatch.setattr(map_chart, "MAP_TOP_DEP", 5)
    at = open_embeddings()
    trace = map_spec(at)["data"][1]
    run = Run(next((tiny_run / "runs" / "tiny").iterdir()))
    frame, xy = run_insights(run)["training"].frame, split_map(run, "training")
    x, y = (np.frombuffer(base64.b64decode(trace[a]["bdata"]), dtype=trace[a]["dtype"]) for a in ("x", "y"))
    drawn = {(float(a), float(b)) for a, b in zip(x, y)}
    assert len(drawn) == 30 and trace["type"] == "scattergl"
    top = np.argsort(-frame["dep"].to_numpy(), kind="stable")[:5]
    assert {(float(np.float32(x)), float(np.float32(y))) for x, y in xy[top]} <= drawn  # the likeliest errors
    assert "Drawn: 30 of the 90 samples shown" in shown_text(at)

    at.session_state["map_selection"] = "box:-1000,1000,-1000,1000"  # what a box around every point leaves
    at.session_state["selected_ids"] = None
    at.run()
    assert sorted(at.session_state["selected_ids"]) == sorted(frame["id"].tolist())  # drawn or not
    assert "90 points selected" in shown_text(at)
