"""The run a user picked stays picked, in headless Chromium: a newer run is announced, never opened by itself.

Before the fix, a run that appeared while the console was open (a retrain, a `dq auto` from the CLI,
a teammate's run) changed the Run box's options, Streamlit reset the box to its first option (the
newest run) at the next page change, and the user went on working in another run's cart."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import dq.client
from tests.browser_steps import FIRST_VISIT_MS
from tests.tiny_runs import fresh_tiny_run

pytestmark = pytest.mark.browser


def _run_box(page):  # noqa: ANN001, ANN202
    return page.get_by_role("combobox", name="Run", exact=True)


def test_a_newer_run_is_announced_and_the_picked_run_stays(
    dq_home: Path,
    streamlit_server,
    browser_page,
    wait_idle,
    screenshot,  # noqa: ANN001
) -> None:
    from playwright.sync_api import expect

    fresh_tiny_run(dq_home, run="r1")
    page = browser_page
    page.goto(streamlit_server(dq_home) + "/?label=billing")
    wait_idle(page, timeout_ms=FIRST_VISIT_MS)
    expect(_run_box(page)).to_match_aria_snapshot('- combobox "Run": r1')

    fresh_tiny_run(dq_home, run="r2", seed=1)  # a newer run lands in the same project
    nav = page.get_by_test_id("stSidebarNav")
    nav.locator("a", has_text="Edits cart").first.click()
    wait_idle(page, timeout_ms=FIRST_VISIT_MS)
    nav.locator("a", has_text="Dataset").first.click()
    wait_idle(page, timeout_ms=FIRST_VISIT_MS)
    expect(_run_box(page)).to_match_aria_snapshot('- combobox "Run": r1')  # the run the user was working in
    assert "label=billing" in page.url  # ... with its filters
    notice = page.get_by_test_id("stAlert").filter(has_text="A newer run")
    expect(notice).to_contain_text("r2")
    screenshot(page, "newer-run-announced")

    page.get_by_role("button", name="Open r2").click()
    wait_idle(page, timeout_ms=FIRST_VISIT_MS)
    expect(_run_box(page)).to_match_aria_snapshot('- combobox "Run": r2')
    expect(page.get_by_test_id("stAlert").filter(has_text="A newer run")).to_have_count(0)
    assert page.locator("[data-testid='stException']").count() == 0


def test_the_runs_page_opens_a_run(dq_home: Path, streamlit_server, browser_page, wait_idle) -> None:  # noqa: ANN001
    from playwright.sync_api import expect

    from tests.browser_steps import tick_rows

    fresh_tiny_run(dq_home, run="r1")
    fresh_tiny_run(dq_home, run="r2", seed=1)
    page = browser_page
    page.goto(streamlit_server(dq_home) + "/runs")
    wait_idle(page, timeout_ms=FIRST_VISIT_MS)
    tick_rows(page, [1], wait_idle)  # the second row: whichever run it lists
    button = page.get_by_role("button", name=re.compile(r"^Open tiny.r[12]$"))
    picked = button.inner_text().strip().rsplit("/", 1)[1]
    button.click()
    wait_idle(page, timeout_ms=FIRST_VISIT_MS)
    expect(page.get_by_role("heading", name="Dataset")).to_be_visible()
    expect(_run_box(page)).to_match_aria_snapshot(f'- combobox "Run": {picked}')
