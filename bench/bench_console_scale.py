"""The console on the 5M-sample synthetic run (headless Chromium): the Dataset page's table visible
after opening the run, and a filter change, against the targets of 5 s and 2 s.

The run's insights are cached on disk first (``dq insights``; not timed). Opening is timed from
navigating a fresh browser context to "/" until the table's first row text is in the page: on a
server that has just started and reads the run's cached insights for that first page (``streamlit
run``), on the launcher ``make run`` uses (``python -m dq_console.serve``, which reads them before it
listens), and on a server that already holds them. A filter change toggles "Misclassified only" and
stops when the script is idle and the table shows the new count. The server's peak RSS comes from
/proc. The measuring code is bench/bench_console.py's. Run::

    mkdir -p /tmp/dq-c5m-home/runs/synthetic && ln -s RUN_DIR /tmp/dq-c5m-home/runs/synthetic/  # the run alone
    python bench/bench_console_scale.py --home /tmp/dq-c5m-home \\
        --run /tmp/dq-c5m-home/runs/synthetic/synth-v1-n5000000-c20-d384-e3-noise0.1-s0

and the results replace the ``console_scale`` section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import write_section  # noqa: E402
from bench_console import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    COUNT_CAPTION_JS,
    FIRST_CELL_JS,
    UPDATED_JS,
    VIEWPORT,
    WAIT_TIMEOUT_MS,
    start_server,
    stop_server,
    target_row,
    time_filter_changes,
    time_open,
)

OPEN_TARGET_S = 5.0
FILTER_TARGET_S = 2.0


def _peak_rss_gb(pid: int) -> float:
    """VmHWM (the peak resident set) of a live process, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024**2
    return float("nan")


#: The whole page: the script idle, nothing stale (the preview's elements replaced), the table drawn.
WHOLE_PAGE_JS = """() => {
  const app = document.querySelector("[data-testid='stApp']");
  if (!app || app.getAttribute("data-test-script-state") !== "notRunning") return false;
  if (document.querySelector("[data-stale='true']")) return false;
  return document.querySelector("[data-testid='stDataFrame'] td[role='gridcell']") !== null;
}"""


def time_open_both(browser, url: str) -> tuple[float, float]:  # noqa: ANN001
    """Seconds until the table's first row text is in the page (on a server still reading the run:
    the first page read from disk), and until the whole page is (the sidebar's filters drawn, the
    script idle, nothing of the preview left, the table drawn)."""
    context = browser.new_context(viewport=VIEWPORT)
    try:
        page = context.new_page()
        start = time.perf_counter()
        page.goto(url + "/")
        page.wait_for_function(FIRST_CELL_JS, timeout=WAIT_TIMEOUT_MS)
        table = time.perf_counter() - start
        page.get_by_test_id("stSidebar").get_by_text("Misclassified only").wait_for(timeout=WAIT_TIMEOUT_MS)
        page.wait_for_function(WHOLE_PAGE_JS, timeout=WAIT_TIMEOUT_MS)
        return table, time.perf_counter() - start
    finally:
        context.close()


#: Pixels from the grid's top to the middle of the first row, and per row (Streamlit's defaults).
FIRST_ROW_Y, ROW_PX = 35 + 17, 35
#: Words searched in the texts (substring, case-insensitive): SQL over every text of the split.
SEARCH_WORDS = ("wallet", "refund", "card")
#: The opened sample's panel with its neighbours drawn.
PANEL_JS = """() => {
  const app = document.querySelector("[data-testid='stApp']");
  if (!app || app.getAttribute("data-test-script-state") !== "notRunning") return false;
  const panel = document.querySelector("[role='dialog']");
  return panel !== null && panel.textContent.includes("Nearest neighbors")
    && panel.querySelectorAll("[data-testid='stDataFrame']").length >= 2;
}"""


def time_interactions(browser, url: str, repeats: int) -> dict[str, list[float]]:  # noqa: ANN001
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    """Seconds per search of a word in the texts, per move to the next page (each until the table
    shows the new rows), and per opened sample (a click on a row's text until its panel shows the
    neighbours; the first one reads the split's embeddings)."""
    context = browser.new_context(viewport=VIEWPORT)
    times: dict[str, list[float]] = {"search": [], "page": [], "sample": []}
    try:
        page = context.new_page()
        page.goto(url + "/")
        page.wait_for_function(WHOLE_PAGE_JS, timeout=WAIT_TIMEOUT_MS)
        search = page.get_by_test_id("stSidebar").get_by_label("Search text")
        for word in SEARCH_WORDS[:repeats]:
            page.wait_for_timeout(300)
            before = page.evaluate(COUNT_CAPTION_JS)
            start = time.perf_counter()
            search.fill(word)
            search.press("Enter")
            page.wait_for_function(UPDATED_JS, arg=before, timeout=WAIT_TIMEOUT_MS)
            times["search"].append(time.perf_counter() - start)
        search.fill("")
        search.press("Enter")
        page.wait_for_function(WHOLE_PAGE_JS, timeout=WAIT_TIMEOUT_MS)
        pager = page.get_by_test_id("stMain").get_by_test_id("stNumberInput").locator("input")
        for number in range(2, 2 + repeats):
            page.wait_for_timeout(300)
            before = page.evaluate(COUNT_CAPTION_JS)
            start = time.perf_counter()
            pager.fill(str(number))
            pager.press("Enter")
            page.wait_for_function(UPDATED_JS, arg=before, timeout=WAIT_TIMEOUT_MS)
            times["page"].append(time.perf_counter() - start)
        for row in range(repeats):
            page.wait_for_function(WHOLE_PAGE_JS, timeout=WAIT_TIMEOUT_MS)
            page.wait_for_timeout(500)
            grid = page.get_by_test_id("stMain").get_by_test_id("stDataFrame").first
            grid.wait_for(state="visible", timeout=WAIT_TIMEOUT_MS)
            box = grid.bounding_box()
            assert box is not None, "the table is not on the page"
            start = time.perf_counter()
            for attempt in range(3):  # a click the grid takes as focus only opens nothing: click again
                page.mouse.click(box["x"] + 200, box["y"] + FIRST_ROW_Y + ROW_PX * row)
                try:
                    page.wait_for_function(PANEL_JS, timeout=10_000 if attempt < 2 else WAIT_TIMEOUT_MS)
                    break
                except PlaywrightTimeout:
                    print(f"sample {row}: no panel 10 s after click {attempt + 1}; clicking again", flush=True)
            times["sample"].append(time.perf_counter() - start)
            page.keyboard.press("Escape")
            page.wait_for_function("() => document.querySelector(\"[role='dialog']\") === null")
        return times
    finally:
        context.close()


#: The Embeddings page drawn: the map's WebGL canvas on the page and the script idle.
MAP_JS = """() => {
  const app = document.querySelector("[data-testid='stApp']");
  if (!app || app.getAttribute("data-test-script-state") !== "notRunning") return false;
  return document.querySelector("[data-testid='stPlotlyChart'] canvas") !== null;
}"""


def time_embeddings(browser, url: str, repeats: int) -> list[float]:  # noqa: ANN001
    """Seconds from navigating to the Embeddings page until its map is drawn (the map's coordinates
    cached on disk; the first visit of a server reads them)."""
    return [time_open(browser, url, path="/embeddings", ready=MAP_JS) for _ in range(repeats)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--run", type=Path, required=True)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args()
    os.environ["DQ_HOME"] = str(args.home)
    from playwright.sync_api import sync_playwright

    import dq.insights
    from dq.store import Run, list_runs

    newest = next((e for e in list_runs() if e.finished), None)
    if newest is None or newest.path.resolve() != args.run.resolve():
        # The console opens the newest run of its home: anything else would be measured instead.
        raise SystemExit(
            f"--home must hold --run as its newest run (it opens {newest and newest.path}): "
            "give a home of its own, e.g. one holding a link to the run"
        )

    start = time.perf_counter()
    dq.insights.stored_insights(args.run)  # computed once, or found in the cache: not timed
    print(f"insights ready in {time.perf_counter() - start:.1f} s", flush=True)
    n = sum(Run(args.run).n_samples(s) for s in Run(args.run).splits)
    fresh: dict[str, list[float]] = {"streamlit run": [], "python -m dq_console.serve": []}
    whole: list[float] = []  # a fresh `streamlit run` server: until the whole page (filters) is drawn
    warm: list[float] = []
    filters: list[float] = []
    peaks: list[float] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            for _ in range(args.repeats):
                for launcher in fresh:
                    proc, url = start_server(args.home, launcher=launcher)
                    try:
                        if launcher == "streamlit run":
                            table_s, whole_s = time_open_both(browser, url)
                            fresh[launcher].append(table_s)
                            whole.append(whole_s)
                        else:
                            fresh[launcher].append(time_open(browser, url))
                        print(f"open, fresh server ({launcher}): {fresh[launcher][-1]:.2f} s", flush=True)
                        if launcher == "streamlit run":
                            warm.append(time_open(browser, url))
                            print(f"open, warm server: {warm[-1]:.2f} s", flush=True)
                        peaks.append(_peak_rss_gb(proc.pid))
                    finally:
                        stop_server(proc)
            proc, url = start_server(args.home)
            try:
                time_open(browser, url)
                filters = time_filter_changes(browser, url, args.repeats)
                print("filter toggles: " + ", ".join(f"{t:.2f}" for t in filters) + " s", flush=True)
                table_peak = _peak_rss_gb(proc.pid)
                acts = time_interactions(browser, url, args.repeats)
                print(f"interactions: {acts}", flush=True)
                panel_peak = _peak_rss_gb(proc.pid)
                maps = time_embeddings(browser, url, args.repeats)
                print("embeddings page: " + ", ".join(f"{t:.2f}" for t in maps) + " s", flush=True)
                map_peak = _peak_rss_gb(proc.pid)
            finally:
                stop_server(proc)
        finally:
            browser.close()
    body = "\n\n".join(
        [
            "## Console on 5M samples (headless Chromium)",
            f"`bench/bench_console_scale.py` on `{args.run.name}` ({n:,} samples; insights cached on disk). "
            "Open: navigating a fresh browser context to `/` until the table's first row text is in the page. "
            'Filter change: toggling "Misclassified only" until the script is idle and the count caption shows '
            "the new rows. Medians of the repetitions.",
            "| measure | median s | all runs (s) | target (s) | met? |\n|---|---|---|---|---|\n"
            + "\n".join(
                [
                    target_row(
                        "open, fresh server (`streamlit run`: reads the cached insights' tables, the file's "
                        "digest checked)",
                        fresh["streamlit run"],
                        OPEN_TARGET_S,
                    ),
                    target_row("  the same, until the whole page (filters, fixes) is in", whole, OPEN_TARGET_S),
                    target_row(
                        "open, fresh server (`python -m dq_console.serve`, as `make run`)",
                        fresh["python -m dq_console.serve"],
                        OPEN_TARGET_S,
                    ),
                    target_row("open, warm server", warm, OPEN_TARGET_S),
                    target_row("filter change (Misclassified only)", filters, FILTER_TARGET_S),
                    target_row(
                        f"text search ({', '.join(SEARCH_WORDS[: args.repeats])}: SQL over every text)",
                        acts["search"],
                        FILTER_TARGET_S,
                    ),
                    target_row("next page of the table", acts["page"], FILTER_TARGET_S),
                    target_row(
                        "open a sample with its neighbours (a row of those the insights keep)",
                        acts["sample"],
                        OPEN_TARGET_S,
                    ),
                    target_row(
                        "open the Embeddings page (200,000 of the points drawn; the first visit reads the map)",
                        maps,
                        OPEN_TARGET_S,
                    ),
                ]
            ),  # fmt: skip
            f"Server peak RSS: {max(peaks):.2f} GB opening the page (each fresh server, the most), "
            f"{table_peak:.2f} GB after the filter changes, {panel_peak:.2f} GB after searches, pages and "
            f"opened samples, {map_peak:.2f} GB after the Embeddings page.",
        ]
    )
    print(body)
    if not args.no_write:
        write_section("console_scale", body)


if __name__ == "__main__":
    main()
