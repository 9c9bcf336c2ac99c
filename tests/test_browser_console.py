"""The whole console in headless Chromium over a small logged run: the Dataset page, an alert, a box
selection on the Embeddings map, a cluster card, the split picker, the other pages, and a copied link
that opens the same filtered view. Sample text stays inert throughout (no dialog, no element made from it).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import dq
import dq.client

pytestmark = pytest.mark.browser

LABELS = ["billing", "delivery", "login", "refund"]
WORDS = {
    "billing": "invoice charged twice fee",
    "delivery": "parcel courier late address",
    "login": "password account locked reset",
    "refund": "money back return order",
}
N_TRAIN_PER_CLASS = 40
N_TEST_PER_CLASS = 10
#: A sample text that would run, render or format if it were ever shown as HTML or markdown.
HOSTILE = "<script>alert(1)</script> <b>x</b> **md**"
#: Milliseconds for the first visit of a page: insights, then a UMAP map (numba compiles on first use).
FIRST_VISIT_MS = 120_000
COUNT = re.compile(r"Showing [\d,–]+ of ([\d,]+) samples \(([\d,]+) in (\w+)\)")


def _log_run(home: Path) -> None:
    """4 topics in 16-d, training and test splits; a few training labels flipped (planted errors)."""
    rng = np.random.default_rng(0)
    centres = np.eye(16)[: len(LABELS)] * 4
    dq.init(project="console", run="r1", labels=LABELS, home=home)
    try:
        for split, per_class in (("training", N_TRAIN_PER_CLASS), ("test", N_TEST_PER_CLASS)):
            n = per_class * len(LABELS)
            topic = np.arange(n) % len(LABELS)
            texts = [f"{WORDS[LABELS[t]]} {split} question {i}" for i, t in enumerate(topic)]
            labels = [LABELS[t] for t in topic]
            if split == "training":
                texts[3] = HOSTILE
                for i in (3, 10, 25, 47, 66, 91, 130, 151):
                    labels[i] = LABELS[(topic[i] + 1) % len(LABELS)]
            ids = list(range(n))
            dq.log_data_samples(texts=texts, labels=labels, ids=ids, split=split)
            embs = centres[topic] + rng.normal(scale=0.6, size=(n, 16))
            for epoch in (0, 1):
                logits = 2.0 * (epoch + 1) * np.eye(len(LABELS))[topic] + rng.normal(scale=0.6, size=(n, len(LABELS)))
                probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
                dq.log_model_outputs(ids=ids, embs=embs, probs=probs, split=split, epoch=epoch)
        dq.finish()
    finally:
        dq.client._current = None


def _count_text(page: Any, *, timeout_ms: int = 30_000) -> str:
    caption = page.get_by_test_id("stMain").get_by_text(COUNT).first
    caption.wait_for(state="visible", timeout=timeout_ms)
    return caption.inner_text()


def _nav(page: Any, name: str) -> None:
    page.get_by_test_id("stSidebarNav").locator("a", has_text=name).first.click()


def _assert_clean(page: Any, dialogs: list[str]) -> None:
    assert page.locator("[data-testid='stException']").count() == 0
    assert page.locator("img[src='x']").count() == 0
    assert dialogs == []


def test_console_end_to_end(
    dq_home: Path,
    streamlit_server: Callable[[Path], str],
    browser_page: Any,
    wait_idle: Callable[..., None],
    screenshot: Callable[[Any, str], Path],
) -> None:
    from playwright.sync_api import expect

    _log_run(dq_home)
    page = browser_page
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    n_train = N_TRAIN_PER_CLASS * len(LABELS)

    # Dataset: the root URL first (a fresh server's first request must run streamlit_app.py).
    page.goto(streamlit_server(dq_home) + "/")
    wait_idle(page, timeout_ms=FIRST_VISIT_MS)
    before = _count_text(page, timeout_ms=FIRST_VISIT_MS)
    assert COUNT.search(before).groups() == (str(n_train), str(n_train), "training")
    page.get_by_test_id("stDataFrame").first.wait_for(state="visible")
    screenshot(page, "dataset")
    _assert_clean(page, dialogs)

    # An alert filters to its samples, names itself in the URL and shows them (the Samples tab).
    page.get_by_role("tab", name=re.compile(r"^Alerts")).click()
    wait_idle(page)
    expect(page).to_have_url(re.compile(r"[?&]tab=Alerts"))
    alert = page.locator("[class*='st-key-alert_'] button").first
    alert.wait_for(state="visible")
    alert.click()
    wait_idle(page)
    expect(page).to_have_url(re.compile(r"[?&]alert="))
    after = _count_text(page)
    assert after != before, after
    assert int(COUNT.search(after).group(1)) < n_train

    # Embeddings: a box dragged over the map selects points.
    _nav(page, "Embeddings")
    wait_idle(page, timeout_ms=FIRST_VISIT_MS)
    chart = page.get_by_test_id("stPlotlyChart").first
    chart.wait_for(state="visible", timeout=FIRST_VISIT_MS)
    drag = chart.locator(".nsewdrag").first
    drag.wait_for(state="attached", timeout=FIRST_VISIT_MS)
    drag.scroll_into_view_if_needed()
    box = drag.bounding_box()
    assert box is not None and box["width"] > 100 and box["height"] > 100, box
    page.mouse.move(box["x"] + 0.03 * box["width"], box["y"] + 0.03 * box["height"])
    page.mouse.down()
    for step in range(1, 11):
        page.mouse.move(
            box["x"] + (0.03 + 0.094 * step) * box["width"], box["y"] + (0.03 + 0.094 * step) * box["height"]
        )
    page.mouse.up()
    wait_idle(page)
    selected = page.get_by_test_id("stMain").get_by_text(re.compile(r"[\d,]+ points selected")).first
    selected.wait_for(state="visible", timeout=30_000)
    n_selected = int(re.search(r"([\d,]+) points selected", selected.inner_text()).group(1).replace(",", ""))
    assert n_selected > 0
    screenshot(page, "embeddings")
    _assert_clean(page, dialogs)

    # The selection lives in the URL: a copied link reopens it, on the map and in the Dataset page.
    expect(page).to_have_url(re.compile(r"[?&]map_selection=box"))
    linked = page.context.new_page()
    linked.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    linked.goto(page.url)
    wait_idle(linked, timeout_ms=FIRST_VISIT_MS)
    expect(linked.get_by_test_id("stMain").get_by_text(f"{n_selected:,} points selected")).to_be_visible()
    linked.goto(page.url.replace("/embeddings", "/"))
    wait_idle(linked, timeout_ms=FIRST_VISIT_MS)
    summary = f"the {n_selected:,} samples selected on the map"
    expect(linked.get_by_test_id("stSidebar").get_by_text(summary)).to_be_visible()
    assert COUNT.search(_count_text(linked)).group(1) == f"{n_selected:,}"
    _assert_clean(linked, dialogs)
    linked.close()

    # Clusters: the table view by default; a card opens the Dataset page filtered to its cluster.
    _nav(page, "Clusters")
    wait_idle(page)
    page.get_by_test_id("stDataFrame").first.wait_for(state="visible")
    screenshot(page, "clusters-table")
    page.get_by_test_id("stButtonGroup").get_by_text("Cards", exact=True).first.click()
    wait_idle(page)
    show = page.get_by_role("button", name=re.compile("Show in Dataset")).first
    show.wait_for(state="visible")
    screenshot(page, "clusters")
    show.click()
    wait_idle(page)
    expect(page).to_have_url(re.compile(r"[?&]cluster="))
    expect(page.get_by_test_id("stMain").get_by_role("heading", name="Dataset")).to_be_visible()
    _assert_clean(page, dialogs)

    # The split picker shows the test samples (changing the view clears the filters).
    split_box = page.get_by_test_id("stSidebar").get_by_test_id("stSelectbox").filter(has_text="Split")
    split_box.click()
    page.get_by_role("option", name="test", exact=True).click()
    wait_idle(page)
    n_test = N_TEST_PER_CLASS * len(LABELS)
    expect(page.get_by_test_id("stMain").get_by_text(f"({n_test} in test)")).to_be_visible()
    expect(page).to_have_url(re.compile(r"[?&]split=test"))
    # A filter to carry in a copied link.
    page.get_by_test_id("stSidebar").get_by_text("Misclassified only").click()
    wait_idle(page)
    expect(page).to_have_url(re.compile(r"[?&]misclassified=1"))
    filtered = _count_text(page)
    assert COUNT.search(filtered).group(3) == "test"
    copied = page.url
    _assert_clean(page, dialogs)

    # The other pages render.
    _nav(page, "Edits cart")
    wait_idle(page)
    expect(page.get_by_role("heading", name="Edits cart")).to_be_visible()
    screenshot(page, "edits-cart")
    _nav(page, "Runs")
    wait_idle(page)
    expect(page.get_by_role("heading", name="Finished runs")).to_be_visible()
    screenshot(page, "runs")
    _assert_clean(page, dialogs)

    # A copied link opens the same filtered view in a new tab.
    other = page.context.new_page()
    other.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    other.goto(copied)
    wait_idle(other)
    assert _count_text(other) == filtered
    expect(other.get_by_test_id("stSidebar").get_by_role("combobox", name="Split")).to_have_value("test")
    _assert_clean(other, dialogs)
    _assert_clean(page, dialogs)
