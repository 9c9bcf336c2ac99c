"""Reading the Dataset page in a 1400×900 window of headless Chromium, on long texts and long class
names (banking-style intents): what a reviewer needs is on screen without scrolling sideways.

- The table: DEP, text, ground truth, prediction and suggestion fit the grid's visible width, the
  text column holds at least 60 characters of a real sentence in the grid's own font, and the
  grid's toolbar never covers the page-number box.
- A clicked row opens its sample in a panel inside the window, its neighbors' DEP, text and labels
  visible without scrolling sideways; ticking a row (for the actions) does not open it; closing
  the panel and clicking the same row opens it again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import dq
import dq.client
from dq_console.sample_view import NEIGHBORS_CONFIG
from dq_console.table import COLUMN_CONFIG
from tests.browser_steps import FIRST_ROW_Y, FIRST_VISIT_MS, ROW_PX

pytestmark = pytest.mark.browser

LABELS = [
    "balance_not_updated_after_bank_transfer",
    "card_payment_not_recognised_by_merchant",
    "transfer_not_received_by_recipient",
]
SENTENCES = [
    "I made a transfer from my other bank three days ago and my balance here still shows the old amount",
    "There is a card payment on my statement from a shop I have never visited, what should I do now",
    "My friend says the money I sent on Monday never arrived in their account, can you check it please",
]
#: The columns a reviewer reads, in the table and among the neighbors.
READ_COLUMNS = ["dep", "text", "label", "pred", "suggested_label"]
NEIGHBOR_COLUMNS = ["dep", "text", "label", "pred"]
#: The grid's selection boxes (a row marker column) take this many pixels at the left.
ROW_MARKER_PX = 32


def _log_run(home: Path) -> None:
    rng = np.random.default_rng(0)
    n = 90
    topic = np.arange(n) % 3
    labels = [LABELS[t] for t in topic]
    for i in range(1, 7):
        labels[i * 7] = LABELS[(topic[i * 7] + 1) % 3]  # planted errors
    dq.init(project="bank", run="r1", labels=LABELS, home=home)
    dq.log_data_samples(
        texts=[f"{SENTENCES[t]} (case {i})" for i, t in enumerate(topic)], labels=labels, ids=range(n), split="training"
    )
    embs = np.eye(16)[topic] * 4 + rng.normal(scale=0.6, size=(n, 16))
    for epoch in (0, 1):
        logits = 2.0 * (epoch + 1) * np.eye(3)[topic] + rng.normal(scale=0.5, size=(n, 3))
        probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        dq.log_model_outputs(ids=range(n), embs=embs, probs=probs, split="training", epoch=epoch)
    dq.finish()
    dq.client._current = None


def _width(config: dict[str, Any], columns: list[str]) -> int:
    return sum(int(config[c]["width"]) for c in columns)


def _visible_width(grid: Any) -> float:
    """The grid's visible width in pixels (its scroller's client width: what shows without scrolling)."""
    return float(grid.locator(".dvn-scroller").first.evaluate("e => e.clientWidth"))


def _text_px(grid: Any, text: str) -> float:
    """Pixel width of ``text`` in the grid's font, measured by the browser."""
    return float(
        grid.evaluate(
            """(e, text) => {
                const font = getComputedStyle(e).fontFamily;
                const ctx = document.createElement("canvas").getContext("2d");
                ctx.font = `14px ${font}`;
                return ctx.measureText(text).width;
            }""",
            text,
        )
    )


def _overlap(a: dict[str, float], b: dict[str, float]) -> bool:
    return not (
        a["x"] + a["width"] <= b["x"]
        or b["x"] + b["width"] <= a["x"]
        or a["y"] + a["height"] <= b["y"]
        or b["y"] + b["height"] <= a["y"]
    )


def test_the_table_and_the_opened_sample_fit_a_1400_pixel_window(
    dq_home: Path,
    streamlit_server,
    browser_page,
    wait_idle,
    screenshot,  # noqa: ANN001
) -> None:
    from playwright.sync_api import expect

    _log_run(dq_home)
    page = browser_page
    assert page.viewport_size == {"width": 1400, "height": 900}
    page.goto(streamlit_server(dq_home) + "/")
    wait_idle(page, timeout_ms=FIRST_VISIT_MS)
    grid = page.get_by_test_id("stMain").get_by_test_id("stDataFrame").first
    grid.wait_for(state="visible", timeout=FIRST_VISIT_MS)
    page.wait_for_timeout(500)  # the grid lays out after it appears

    # The five columns a reviewer reads are inside the visible width; 60 characters fit the text.
    assert ROW_MARKER_PX + _width(COLUMN_CONFIG, READ_COLUMNS) <= _visible_width(grid)
    sixty = SENTENCES[0][:60]
    assert _text_px(grid, sixty) + 16 <= int(COLUMN_CONFIG["text"]["width"])  # 8 px of padding each side
    screenshot(page, "review-table-1400")

    # The toolbar shown over the grid on hover leaves the page-number box free.
    box = grid.bounding_box()
    page.mouse.move(box["x"] + box["width"] - 40, box["y"] + 60)
    toolbar = page.get_by_test_id("stElementToolbar").first
    toolbar.wait_for(state="visible")
    pager = page.get_by_test_id("stNumberInput").first.bounding_box()
    assert not _overlap(toolbar.bounding_box(), pager), (toolbar.bounding_box(), pager)

    # Ticking a row makes it an action target and opens nothing.
    page.mouse.click(box["x"] + 15, box["y"] + FIRST_ROW_Y)
    wait_idle(page)
    expect(page.get_by_text("Ticked rows (1)")).to_be_visible()
    assert page.get_by_role("dialog").count() == 0

    # Clicking a row's text opens its sample in a panel inside the window.
    page.mouse.click(box["x"] + 200, box["y"] + FIRST_ROW_Y + ROW_PX)
    wait_idle(page)
    panel = page.get_by_role("dialog")
    expect(panel).to_be_visible()
    expect(panel.get_by_text("Nearest neighbors")).to_be_visible()
    # (the panel slides in from the right: wait until it has come to rest inside the window)
    page.wait_for_function(
        "() => { const r = document.querySelector('[role=dialog]').getBoundingClientRect();"
        " return r.left >= 0 && r.right <= window.innerWidth; }"
    )
    neighbors = panel.get_by_test_id("stDataFrame").last
    neighbors.scroll_into_view_if_needed()
    assert ROW_MARKER_PX + _width(NEIGHBORS_CONFIG, NEIGHBOR_COLUMNS) <= _visible_width(neighbors)
    screenshot(page, "review-sample-panel-1400")

    # Closed, it stays closed; the same row opens it again.
    panel.get_by_test_id("stBaseButton-secondary").filter(has_text="Close").click()  # not the corner x
    wait_idle(page)
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(page.get_by_text("Ticked rows (1)")).to_be_visible()  # the ticks survive the panel
    page.mouse.click(box["x"] + 200, box["y"] + FIRST_ROW_Y + ROW_PX)
    wait_idle(page)
    expect(page.get_by_role("dialog")).to_be_visible()
    page.keyboard.press("Escape")
    wait_idle(page)
    expect(page.get_by_role("dialog")).to_have_count(0)
    assert page.get_by_test_id("stException").count() == 0
