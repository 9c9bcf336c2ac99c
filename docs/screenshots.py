"""Take the screenshots of docs/img/: every page of the console at 1400×900 and 1920×1080.

``make screenshots`` (or ``python docs/screenshots.py [--out docs/img]``) builds the demo run into a
scratch DQ_HOME, serves the console over it, and walks it in headless Chromium as a reviewer
would: the Dataset page (samples, alerts, metrics), a sample opened from the table and relabeled
to its suggestion, the Embeddings map, the Clusters table, the Edits cart holding that edit, and
the Runs page. Each view is saved as ``<view>-<width>.png``; the scratch home is removed after.
Needs Debian's Chromium (``make chromium``) and the demo's shipped embeddings (no model download).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))
from bench_console import start_server, stop_server  # noqa: E402 - the console server the benchmarks start

CHROMIUM = "/usr/bin/chromium"
SIZES = ((1400, 900), (1920, 1080))
#: Milliseconds to wait for the first page (the run's insights are read) and for any later rerun.
FIRST_MS, RERUN_MS = 180_000, 60_000
#: Pixels from the grid's top to the middle of the first row (Streamlit's defaults).
FIRST_ROW_Y = 35 + 17


def _idle(page: Any, timeout_ms: int = RERUN_MS) -> None:
    page.wait_for_timeout(400)
    page.wait_for_selector(
        "[data-testid='stApp'][data-test-script-state='notRunning']", state="attached", timeout=timeout_ms
    )
    page.wait_for_function(
        "() => !document.querySelector(\"[data-stale='true'], [data-testid='stSkeleton']\")", timeout=timeout_ms
    )
    page.wait_for_timeout(600)  # charts and grids draw after the script ends


def _shoot(page: Any, out: Path, name: str) -> None:
    path = out / f"{name}-{page.viewport_size['width']}.png"
    page.screenshot(path=str(path))
    print(path.relative_to(REPO) if path.is_relative_to(REPO) else path)


def _walk(page: Any, url: str, out: Path, *, relabel: bool) -> None:
    page.goto(url + "/")
    _idle(page, FIRST_MS)
    page.get_by_test_id("stMain").get_by_test_id("stDataFrame").first.wait_for(state="visible", timeout=FIRST_MS)
    _idle(page)
    _shoot(page, out, "dataset")
    for tab, name in (("Alerts", "dataset-alerts"), ("Metrics", "dataset-metrics")):
        page.get_by_role("tab", name=tab).first.click()
        _idle(page)
        _shoot(page, out, name)
    page.get_by_role("tab", name="Samples").first.click()
    _idle(page)
    grid = page.get_by_test_id("stMain").get_by_test_id("stDataFrame").first
    box = grid.bounding_box()
    page.mouse.click(box["x"] + 200, box["y"] + FIRST_ROW_Y)  # the likeliest error's text
    _idle(page)
    panel = page.get_by_role("dialog")
    panel.wait_for(state="visible")
    page.wait_for_timeout(800)  # the panel slides in
    _shoot(page, out, "dataset-sample")
    if relabel:  # once: the cart then holds an edit for the Edits cart page to show
        panel.get_by_role("button", name="Relabel", exact=True).click()
        _idle(page)
    page.keyboard.press("Escape")
    _idle(page)
    for link, name in (("Embeddings", "embeddings"), ("Clusters", "clusters"), ("Edits cart", "edits-cart")):
        page.get_by_test_id("stSidebarNav").get_by_text(link, exact=True).click()
        _idle(page, FIRST_MS)
        _shoot(page, out, name)
    page.get_by_test_id("stSidebarNav").get_by_text("Runs", exact=True).click()
    _idle(page)
    _shoot(page, out, "runs")
    page.get_by_test_id("stSidebarNav").get_by_text("Upload", exact=True).click()
    _idle(page)
    _shoot(page, out, "upload")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "img", help="folder for the PNGs")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="dq-screenshots-") as scratch:
        home = Path(scratch)
        env = {**os.environ, "DQ_HOME": str(home), "HF_HUB_OFFLINE": "1"}
        subprocess.run([sys.executable, "-m", "dq", "demo", "--quiet"], env=env, check=True)
        proc, url = start_server(home, launcher="python -m dq_console.serve")
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
                for i, (width, height) in enumerate(SIZES):
                    page = browser.new_page(viewport={"width": width, "height": height})
                    _walk(page, url, args.out, relabel=i == 0)
                    page.close()
                browser.close()
        finally:
            stop_server(proc)


if __name__ == "__main__":
    main()
