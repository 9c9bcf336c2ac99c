"""The metric beside a filtered table says what it is, in headless Chromium.

Before the fix, filtering one class showed a macro F1 over every class present in the filtered rows
(the wrongly predicted ones included: 0.48 for a class whose own F1 is above 0.9)."""

from __future__ import annotations

from pathlib import Path

import pytest

import dq.client
from dq.insights import run_insights
from dq.store import Run
from tests.browser_steps import FIRST_VISIT_MS
from tests.tiny_runs import fresh_tiny_run

pytestmark = pytest.mark.browser


def test_one_class_shows_its_own_scores_and_other_filters_say_what_the_number_is(
    dq_home: Path,
    streamlit_server,
    browser_page,
    wait_idle,
    screenshot,  # noqa: ANN001
) -> None:
    from playwright.sync_api import expect

    run = fresh_tiny_run(dq_home)
    report = run_insights(run)["training"].class_report.set_index("label")
    page = browser_page
    url = streamlit_server(dq_home)
    page.goto(url + "/?label=billing")
    wait_idle(page, timeout_ms=FIRST_VISIT_MS)
    metric = page.get_by_test_id("stMetric").filter(has_text="F1")
    expect(metric).to_contain_text("F1 of billing")
    expect(metric).to_contain_text(f"{report.loc['billing', 'f1']:.3f}")  # one-vs-rest on the split
    screenshot(page, "metric-one-class")

    page.goto(url + "/?pred=login&metric=recall")
    wait_idle(page)
    expect(page.get_by_test_id("stMetric").filter(has_text="Recall")).to_contain_text(
        f"Recall of login{report.loc['login', 'recall']:.3f}"
    )

    page.goto(url + "/?dep_min=0.5")
    wait_idle(page)
    expect(page.get_by_test_id("stMetric").filter(has_text="F1")).to_contain_text("F1 of these rows")
    page.goto(url + "/?dep_min=0.5&metric=accuracy")
    wait_idle(page)
    expect(page.get_by_test_id("stMetric").filter(has_text="Accuracy")).to_contain_text("Accuracy of these rows")
    assert page.locator("[data-testid='stException']").count() == 0
