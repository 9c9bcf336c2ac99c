"""Undo on the Edits cart page, in headless Chromium: ticks belong to edits, never to positions.

Before the fix, ticking the first edit and undoing it left the tick on another row (the table kept
the ticked *position* while the undone edit dropped out of the list), and undoing the last row
raised ``IndexError: single positional indexer is out-of-bounds``."""

from __future__ import annotations

from pathlib import Path

import pytest

import dq.client
from dq.edits import EditsCart
from dq.edits.model import Change
from dq.store import Run
from tests.browser_steps import FIRST_VISIT_MS, tick_rows
from tests.tiny_runs import fresh_tiny_run

pytestmark = pytest.mark.browser


def _active_ids(cart: EditsCart) -> list[str]:
    history = cart.history("tiny/r1", "training")
    return sorted(history.loc[history["undone_at"].isna(), "sample_id"].tolist())


def test_undo_ticked_undoes_exactly_the_ticked_edit_and_leaves_nothing_ticked(
    dq_home: Path,
    streamlit_server,
    browser_page,
    wait_idle,
    screenshot,  # noqa: ANN001
) -> None:
    from playwright.sync_api import expect

    run = fresh_tiny_run(dq_home)
    cart = EditsCart()
    for sample_id in ("10", "11", "12"):  # three batches: newest (12) listed first
        cart.add(run, "training", [Change(sample_id, "remove")], author="test")
    page = browser_page
    page.goto(streamlit_server(dq_home) + "/edits_cart")
    wait_idle(page, timeout_ms=FIRST_VISIT_MS)
    expect(page.get_by_text("3 of 3 edits of training")).to_be_visible()

    tick_rows(page, [0], wait_idle)  # the newest edit: sample 12
    page.get_by_role("button", name="Undo 1 ticked edit").click()
    wait_idle(page)
    assert _active_ids(cart) == ["10", "11"]
    # Nothing is ticked now: the button offers nothing to undo.
    expect(page.get_by_role("button", name="Undo 0 ticked edits")).to_be_disabled()
    screenshot(page, "cart-after-undo")

    tick_rows(page, [1], wait_idle)  # the last row of the list: sample 10
    page.get_by_role("button", name="Undo 1 ticked edit").click()
    wait_idle(page)
    assert _active_ids(cart) == ["11"]
    expect(page.get_by_role("button", name="Undo 0 ticked edits")).to_be_disabled()
    assert page.locator("[data-testid='stException']").count() == 0


def test_all_splits_download_in_one_file(dq_home: Path, streamlit_server, browser_page, wait_idle) -> None:  # noqa: ANN001
    import io

    import pandas as pd

    run = fresh_tiny_run(dq_home)
    EditsCart().add(run, "test", [Change("4", "remove")], author="test")
    page = browser_page
    page.goto(streamlit_server(dq_home) + "/edits_cart")
    wait_idle(page, timeout_ms=FIRST_VISIT_MS)
    with page.expect_download() as info:
        page.get_by_role("button", name="Download fixed, all 2 splits in one file (CSV)").click()
    fixed = pd.read_csv(io.BytesIO(Path(info.value.path()).read_bytes()), dtype={"id": str})
    assert fixed["split"].value_counts().to_dict() == {"training": 90, "test": 29}  # one test row removed
    assert "4" not in set(fixed.loc[fixed["split"] == "test", "id"])
