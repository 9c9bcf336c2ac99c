"""How fast the console answers in headless Chromium on the 100k-sample synthetic run.

Measures (median of repetitions):

* opening the Dataset page ("/") until the table's first row text is in the page: on a freshly
  started server (the run's insights read from their on-disk cache) and on a server that already
  served the run (Streamlit's in-memory cache);
* a filter change (toggling "Misclassified only" in the sidebar) until the script is idle again and
  the table shows the new rows.

The run's insights are computed (or found cached) before any timing. Run::

    DQ_HOME=/tmp/dq-bench-home python bench/bench_console.py

and the results replace the ``console_speed`` section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import write_section  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DEFAULT_HOME = Path("/tmp/dq-bench-home")
DEFAULT_RUN = DEFAULT_HOME / "runs" / "synthetic" / "synth-v1-n100000-c20-d384-e3-noise0.1-s0"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = {"width": 1400, "height": 900}
REPEATS = 3
OPEN_TARGET_S = 3.0
FILTER_TARGET_S = 1.0
SERVER_START_TIMEOUT_S = 60.0
#: Milliseconds any single wait may take before the measurement is called failed.
WAIT_TIMEOUT_MS = 120_000
IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"
FIRST_CELL_JS = """() => {
  const cell = document.querySelector("[data-testid='stDataFrame'] td[role='gridcell']");
  return cell !== null && cell.textContent.trim().length > 0;
}"""
#: Idle, nothing stale, and the count caption no longer reads as before (the table was redrawn with it).
UPDATED_JS = """(before) => {
  const app = document.querySelector("[data-testid='stApp']");
  if (!app || app.getAttribute("data-test-script-state") !== "notRunning") return false;
  if (document.querySelector("[data-stale='true']")) return false;
  const caption = [...document.querySelectorAll("[data-testid='stCaptionContainer']")]
    .map(e => e.textContent).find(t => t.includes(" samples ("));
  if (!caption || caption === before) return false;
  return document.querySelector("[data-testid='stDataFrame'] td[role='gridcell']") !== null;
}"""
COUNT_CAPTION_JS = """() => [...document.querySelectorAll("[data-testid='stCaptionContainer']")]
  .map(e => e.textContent).find(t => t.includes(" samples (")) || null"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


#: How a server is started: plain ``streamlit run``, or the console launcher ``make run`` uses.
LAUNCHERS = {
    "streamlit run": [sys.executable, "-m", "streamlit", "run", str(REPO / "streamlit_app.py")],
    "python -m dq_console.serve": [sys.executable, "-m", "dq_console.serve"],
}
#: A bare Streamlit page with one 50-row st.dataframe: what any Streamlit app costs to show a table.
FLOOR_APP = """import pandas as pd
import streamlit as st
st.dataframe(pd.DataFrame({"text": ["a sample text"] * 50, "dep": [0.5] * 50}))
"""


def start_server(
    home: Path,
    *,
    launcher: str = "streamlit run",
    script: Path | None = None,
) -> tuple[subprocess.Popen[bytes], str]:
    """A console server on a free port over ``home`` (or ``streamlit run script``); returns the
    process and base URL."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    start = LAUNCHERS["streamlit run"][:-1] + [str(script)] if script is not None else LAUNCHERS[launcher]
    command = [
        *start,
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--server.fileWatcherType",
        "none",
    ]
    env = {**os.environ, "DQ_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while not _healthy(url):
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_server(proc)
            raise RuntimeError(f"streamlit did not start at {url}")
        time.sleep(0.1)
    return proc, url


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _open_page(context, url: str, *, path: str = "/", ready: str = FIRST_CELL_JS) -> float:  # noqa: ANN001
    """Seconds from navigating a new page of ``context`` to ``path`` until ``ready`` holds (by
    default: the Dataset table's first row text is in it)."""
    page = context.new_page()
    start = time.perf_counter()
    page.goto(url + path)
    page.wait_for_function(ready, timeout=WAIT_TIMEOUT_MS)
    elapsed = time.perf_counter() - start
    page.close()
    return elapsed


def time_open(browser, url: str, *, path: str = "/", ready: str = FIRST_CELL_JS) -> float:  # noqa: ANN001
    """Seconds to open a page (the Dataset page by default) in a fresh browser context (nothing in
    its HTTP cache), until ``ready`` holds."""
    context = browser.new_context(viewport=VIEWPORT)
    try:
        return _open_page(context, url, path=path, ready=ready)
    finally:
        context.close()


def time_reopen(browser, url: str) -> float:  # noqa: ANN001
    """Like :func:`time_open`, in a browser that opened the console before (its files in the HTTP cache)."""
    context = browser.new_context(viewport=VIEWPORT)
    try:
        _open_page(context, url)
        return _open_page(context, url)
    finally:
        context.close()


def time_filter_changes(browser, url: str, repeats: int) -> list[float]:  # noqa: ANN001
    """Seconds per toggle of "Misclassified only" until the app is idle and the table shows the new rows."""
    context = browser.new_context(viewport=VIEWPORT)
    try:
        page = context.new_page()
        page.goto(url + "/")
        page.wait_for_function(FIRST_CELL_JS, timeout=WAIT_TIMEOUT_MS)
        page.wait_for_selector(IDLE, state="attached", timeout=WAIT_TIMEOUT_MS)
        toggle = page.get_by_test_id("stSidebar").get_by_text("Misclassified only")
        times = []
        for _ in range(repeats):
            page.wait_for_timeout(300)  # let the previous rerun's frontend work settle
            before = page.evaluate(COUNT_CAPTION_JS)
            start = time.perf_counter()
            toggle.click()
            page.wait_for_function(UPDATED_JS, arg=before, timeout=WAIT_TIMEOUT_MS)
            times.append(time.perf_counter() - start)
        return times
    finally:
        context.close()


def target_row(measure: str, runs: list[float], target: float) -> str:
    """A table row: the median against ``target`` (by how much a missed one is missed) and every run."""
    median = statistics.median(runs)
    all_runs = ", ".join(f"{t:.2f}" for t in runs)
    met = "yes" if median <= target else f"no (by {median - target:.2f} s)"
    return f"| {measure} | {median:.2f} | {all_runs} | ≤ {target:g} | {met} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, default=Path(os.environ.get("DQ_HOME", DEFAULT_HOME)))
    parser.add_argument("--run", type=Path, default=DEFAULT_RUN)
    parser.add_argument("--repeats", type=int, default=REPEATS)
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args()
    os.environ["DQ_HOME"] = str(args.home)

    from playwright.sync_api import sync_playwright

    import dq.insights

    start = time.perf_counter()
    dq.insights.run_insights(args.run)  # computed once, or read from the cache: not part of the timings
    print(f"insights ready in {time.perf_counter() - start:.1f} s", flush=True)
    n_samples = None
    try:
        import json

        meta = json.loads((args.run / "run.json").read_text())
        n_samples = sum(s.get("n_samples", 0) for s in meta.get("splits", {}).values()) or None
    except (OSError, ValueError):
        pass

    load_before = os.getloadavg()
    cold: dict[str, list[float]] = {name: [] for name in LAUNCHERS}
    warm, reopen, filters, floor = [], [], [], []
    floor_script = Path(tempfile.mkdtemp()) / "floor_app.py"
    floor_script.write_text(FLOOR_APP, encoding="utf-8")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            for _ in range(args.repeats):
                for launcher in LAUNCHERS:  # interleaved, so machine noise hits both alike
                    proc, url = start_server(args.home, launcher=launcher)
                    try:
                        cold[launcher].append(time_open(browser, url))
                        print(f"open, fresh server ({launcher}): {cold[launcher][-1]:.2f} s", flush=True)
                        if launcher == "streamlit run":
                            warm.append(time_open(browser, url))
                            print(f"open, warm server: {warm[-1]:.2f} s", flush=True)
                            reopen.append(time_reopen(browser, url))
                            print(f"open, warm server, returning browser: {reopen[-1]:.2f} s", flush=True)
                    finally:
                        stop_server(proc)
                proc, url = start_server(args.home, script=floor_script)
                try:
                    time_open(browser, url)
                    floor.append(time_open(browser, url))
                    print(f"floor (bare st.dataframe page, warm): {floor[-1]:.2f} s", flush=True)
                finally:
                    stop_server(proc)
            proc, url = start_server(args.home)
            try:
                time_open(browser, url)  # the server reads the run once; the toggles are then timed
                filters = time_filter_changes(browser, url, args.repeats)
                print("filter toggles: " + ", ".join(f"{t:.2f}" for t in filters) + " s", flush=True)
            finally:
                stop_server(proc)
        finally:
            browser.close()
    load_after = os.getloadavg()

    size = f"{n_samples:,}-sample" if n_samples else "synthetic"
    body = "\n".join(
        [
            "## Console speed (headless Chromium)",
            "",
            f"The Dataset page over the {size} run `{args.run.name}` (insights already cached on disk), "
            "driven by Debian's Chromium through Playwright against the console's server. "
            "*Open* is the time from navigating a fresh browser context to `/` until the table's first row "
            'text is in the page; "fresh server" starts a new server each time and opens the page as soon as '
            "the server answers its health check (the insights are read from their disk cache): with plain "
            "`streamlit run`, and with the launcher `make run` uses (`python -m dq_console.serve`, which imports the "
            "console and reads the newest run's cached insights before it starts the server, so its health check "
            'answers a little later and the first page opens warm); "warm server" opens a second '
            'page on the same server (Streamlit\'s in-memory cache) in a new browser context, "returning browser" '
            "in a context that opened the console before (Streamlit's JavaScript and fonts in its HTTP cache). The floor is a bare Streamlit page showing "
            "one 50-row `st.dataframe` on a warm server: what any Streamlit app pays before its own work. "
            '*Filter change* toggles "Misclassified only" in the sidebar and stops when the '
            "script is idle again and the table's count caption shows the new rows. "
            f"Load average (1/5/15 min) {load_before[0]:.2f}/{load_before[1]:.2f}/{load_before[2]:.2f} before, "
            f"{load_after[0]:.2f}/{load_after[1]:.2f}/{load_after[2]:.2f} after.",
            "",
            "| measure | median s | all runs (s) | target (s) | met? |",
            "|---|---|---|---|---|",
            target_row("open Dataset page, fresh server (`streamlit run`)", cold["streamlit run"], OPEN_TARGET_S),
            target_row(
                "open Dataset page, fresh server (`python -m dq_console.serve`, as `make run`)",
                cold["python -m dq_console.serve"],
                OPEN_TARGET_S,
            ),
            target_row("open Dataset page, warm server", warm, OPEN_TARGET_S),
            target_row("open Dataset page, warm server, returning browser (files cached)", reopen, OPEN_TARGET_S),
            target_row("filter change (Misclassified only)", filters, FILTER_TARGET_S),
            "",
            f"Floor, a bare Streamlit page with one `st.dataframe` (warm server): median {statistics.median(floor):.2f} s "
            f"({', '.join(f'{t:.2f}' for t in floor)}); the warm Dataset page is "
            f"{statistics.median(warm) / statistics.median(floor):.2f}× the floor.",
        ]
    )
    print(body)
    if not args.no_write:
        write_section("console_speed", body)


if __name__ == "__main__":
    main()
