"""Gestures the browser tests share: ticking rows of the Dataset table, relabelling the ticked rows."""

from __future__ import annotations

from typing import Any

#: Milliseconds for the first visit (the run's insights are computed then).
FIRST_VISIT_MS = 120_000
#: Pixels from the grid's top to the middle of the first row, and per row (Streamlit's defaults).
FIRST_ROW_Y, ROW_PX = 35 + 17, 35


def tick_rows(page: Any, rows: list[int], wait_idle: Any) -> None:
    """Tick the table's rows at these positions (the selection box left of each row)."""
    grid = page.get_by_test_id("stDataFrame").first
    grid.wait_for(state="visible", timeout=FIRST_VISIT_MS)
    page.wait_for_timeout(500)  # the grid lays out after it appears
    for row in rows:
        box = grid.bounding_box()
        page.mouse.click(box["x"] + 15, box["y"] + FIRST_ROW_Y + ROW_PX * row)
        wait_idle(page)


def choose_action(page: Any, name: str, wait_idle: Any) -> None:
    """Pick an action of the Fix panel ("Change label", "Remove", ...)."""
    page.get_by_test_id("stButtonGroup").get_by_text(name, exact=True).first.click()
    wait_idle(page)


def relabel_ticked(page: Any, to: str, n: int, wait_idle: Any) -> None:
    """Relabel the ``n`` ticked rows to ``to`` through the Fix panel."""
    choose_action(page, "Change label", wait_idle)
    page.get_by_test_id("stSelectbox").filter(has_text="New label").click()
    page.keyboard.type(to)
    page.keyboard.press("Enter")
    wait_idle(page)
    page.get_by_role("button", name=f"Relabel {n} samples").click()
    wait_idle(page)
