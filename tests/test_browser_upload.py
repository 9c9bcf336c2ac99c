"""Upload in headless Chromium: a malformed file gets the CLI's one-line error; a good one, with its
columns chosen, becomes a run through dq auto in the background (progress, then "Open it"), and its
Dataset table opens."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dq.store import list_runs

pytestmark = pytest.mark.browser

BUILD_MS = 300_000
GOOD = "sentence,category\n" + "".join(
    f"my card was charged twice {i},billing\nwhere is my parcel {i},delivery\n" for i in range(30)
)


def test_a_file_becomes_a_run(
    dq_home: Path, streamlit_server: Any, browser_page: Any, wait_idle: Any, screenshot: Any, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    page = browser_page
    url = streamlit_server(dq_home)
    page.goto(url + "/upload")
    wait_idle(page, timeout_ms=120_000)
    bad = tmp_path / "broken.csv"
    bad.write_bytes(b"sentence,category\n\xff\xfe,billing\n")
    page.locator("input[type='file']").set_input_files(str(bad))
    wait_idle(page)
    error = page.get_by_test_id("stAlertContentError")
    expect(error).to_contain_text("broken.csv")
    assert str(dq_home) not in error.inner_text() and not (dq_home / "uploads").exists()

    good = tmp_path / "tickets.csv"
    good.write_text(GOOD)
    page.locator("input[type='file']").set_input_files(str(good))
    wait_idle(page)
    expect(page.get_by_text("The first rows of tickets.csv (2 columns):")).to_be_visible()
    page.get_by_test_id("stSelectbox").filter(has_text="Label column").click()
    page.get_by_role("option", name="category").click()
    wait_idle(page)
    page.get_by_test_id("stTextInput").filter(has_text="New project name").locator("input").fill("support")
    page.keyboard.press("Enter")
    wait_idle(page)
    screenshot(page, "upload-columns-chosen")
    page.get_by_role("button", name="Build the run").click()
    expect(page.get_by_text("Built support/tickets.")).to_be_visible(timeout=BUILD_MS)
    assert [(e.project, e.run, e.finished) for e in list_runs(dq_home)] == [("support", "tickets", True)]
    screenshot(page, "upload-built")
    page.get_by_role("button", name="Open it").click()
    wait_idle(page, timeout_ms=120_000)
    expect(page.get_by_role("heading", name="Dataset")).to_be_visible()
    expect(page.get_by_test_id("stDataFrame").first).to_be_visible()
