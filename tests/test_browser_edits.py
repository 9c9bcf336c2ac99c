"""Fixing data in headless Chromium: tick rows, relabel two and remove two, reload, find them in the
Edits cart, download the fixed CSV and check its rows (the gestures AppTest cannot drive)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import dq.client
from dq.edits import EditsCart
from tests.browser_steps import FIRST_VISIT_MS, choose_action, relabel_ticked, tick_rows
from tests.tiny_runs import log_tiny_run

pytestmark = pytest.mark.browser

HOSTILE = "<script>alert(1)</script> <b>x</b> **md**"


def test_relabel_and_remove_survive_a_reload_and_reach_the_fixed_csv(
    dq_home: Path,
    streamlit_server,
    browser_page,
    wait_idle,
    screenshot,  # noqa: ANN001
) -> None:
    from playwright.sync_api import expect

    log_tiny_run(dq_home, first_text=HOSTILE)
    dq.client._current = None
    page = browser_page
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    url = streamlit_server(dq_home)
    page.goto(url + "/?label=billing")  # every row billing: relabelling to login changes each
    wait_idle(page, timeout_ms=FIRST_VISIT_MS)

    tick_rows(page, [0, 1], wait_idle)
    expect(page.get_by_text("Ticked rows (2)")).to_be_visible()
    relabel_ticked(page, "login", 2, wait_idle)
    screenshot(page, "edits-relabeled")

    page.reload()  # a new session: the edits come back from SQLite, not from session state
    wait_idle(page, timeout_ms=FIRST_VISIT_MS)
    tick_rows(page, [2, 3], wait_idle)
    choose_action(page, "Remove", wait_idle)
    page.get_by_role("button", name="Remove 2 samples").click()
    wait_idle(page)

    history = EditsCart().history("tiny/r1", "training")
    relabeled = history.loc[history["action"] == "relabel", "sample_id"].tolist()
    removed = history.loc[history["action"] == "remove", "sample_id"].tolist()
    assert len(relabeled) == 2 and len(removed) == 2 and not set(relabeled) & set(removed)
    assert set(history.loc[history["action"] == "relabel", "new_value"]) == {"login"}

    page.reload()
    wait_idle(page, timeout_ms=FIRST_VISIT_MS)
    page.get_by_test_id("stSidebarNav").locator("a", has_text="Edits cart").first.click()
    wait_idle(page)
    metrics = page.get_by_test_id("stMetric")
    expect(metrics.filter(has_text="Relabel")).to_contain_text("2")
    expect(metrics.filter(has_text="Remove")).to_contain_text("2")
    expect(page.get_by_text("4 of 4 edits of training")).to_be_visible()
    screenshot(page, "edits-cart")

    with page.expect_download() as info:
        page.get_by_role("button", name="Download fixed training (CSV)").click()
    fixed = pd.read_csv(io.BytesIO(Path(info.value.path()).read_bytes()), dtype={"id": str})
    original = dq.store.Run(dq_home / "runs" / "tiny" / "r1").samples("training")
    assert len(fixed) == len(original) - 2
    assert not set(removed) & set(fixed["id"])
    assert set(fixed.loc[fixed["id"].isin(relabeled), "label"]) == {"login"}
    unchanged = fixed[~fixed["id"].isin(relabeled)].set_index("id")["label"]
    before = original.assign(id=original["id"].astype(str)).set_index("id")["label"]
    assert unchanged.equals(before.loc[unchanged.index])
    assert HOSTILE in set(fixed["text"]) or "0" in removed  # texts round-trip exactly
    assert page.locator("[data-testid='stException']").count() == 0 and dialogs == []
