"""The console in headless Chromium: it starts, lists a finished run, and renders names as text."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from dq.config import RUN_SCHEMA_VERSION

pytestmark = pytest.mark.browser


def write_run_json(run_dir: Path) -> None:
    run_dir.mkdir(parents=True)
    meta = {  # a run.json as dq 0.1 wrote it (no file manifest: read without the checks of later runs)
        "schema_version": RUN_SCHEMA_VERSION,
        "project": run_dir.parent.name,
        "run": run_dir.name,
        "content_hash": "blake2b:0",
        "created": "2025-01-02T03:04:05+00:00",
        "splits": {
            "training": {"n_samples": 10_003, "epochs": [0, 1, 2, 3, 4]},
            "test": {"n_samples": 3_080, "epochs": [0, 1, 2, 3, 4]},
        },
        "labels": [f"label_{i}" for i in range(77)],
    }
    (run_dir / "run.json").write_text(json.dumps(meta), encoding="utf-8")


def grid_cell(page: Any, text: str) -> Any:
    # st.dataframe paints on a canvas; its cells are mirrored in a hidden accessibility table.
    return page.locator("[data-testid='stDataFrame'] td[role='gridcell']", has_text=text)


def test_runs_page_lists_a_finished_run(
    dq_home: Path,
    streamlit_server: Callable[[Path], str],
    browser_page: Any,
    wait_idle: Callable[[Any], None],
    screenshot: Callable[[Any, str], Path],
) -> None:
    write_run_json(dq_home / "runs" / "banking" / "baseline-run")
    (dq_home / "runs" / "banking" / "crashed-run").mkdir()
    (dq_home / "runs" / "<img src=x onerror=alert(1)>").mkdir()
    write_run_json(dq_home / "runs" / "<img src=x onerror=alert(1)>" / "<b>bold")
    dialogs: list[str] = []
    browser_page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

    browser_page.goto(streamlit_server(dq_home) + "/runs")
    wait_idle(browser_page)

    expect(browser_page).to_have_title(re.compile("runs", re.IGNORECASE))  # st.navigation titles the tab after the page
    # A deep link as the first request of a fresh server still runs through streamlit_app.py: its menu,
    # not the one Streamlit would make from the pages/ folder ("streamlit app", "edits cart", ...).
    nav = browser_page.get_by_test_id("stSidebarNav")
    expect(nav.locator("a", has_text="Edits cart")).to_have_count(1)
    expect(nav).not_to_contain_text("streamlit app")
    expect(browser_page.get_by_role("heading", name="Runs", exact=True)).to_be_visible()
    expect(browser_page.get_by_role("heading", name="Finished runs")).to_be_visible()
    expect(browser_page.get_by_role("heading", name="Unfinished")).to_be_visible()
    expect(grid_cell(browser_page, "baseline-run")).to_have_count(1)
    expect(grid_cell(browser_page, "crashed-run")).to_have_count(1)
    expect(grid_cell(browser_page, "<b>bold")).to_have_count(1)
    # The names arrive as text: no element was made from them and no script ran.
    assert browser_page.locator("img[src='x']").count() == 0
    assert dialogs == []
    assert not browser_page.locator("[data-testid='stException']").count()
    path = screenshot(browser_page, "runs")
    assert path.stat().st_size > 0


def test_empty_home_tells_how_to_build_the_demo(
    dq_home: Path,
    streamlit_server: Callable[[Path], str],
    browser_page: Any,
    wait_idle: Callable[[Any], None],
    screenshot: Callable[[Any, str], Path],
) -> None:
    browser_page.goto(streamlit_server(dq_home) + "/runs")
    wait_idle(browser_page)

    expect(browser_page.get_by_test_id("stAlert")).to_contain_text("dq demo")
    screenshot(browser_page, "runs-empty")
