"""Fixtures shared by every test: a private DQ_HOME, a console server, and a headless Chromium page.

Browser tests look like this::

    @pytest.mark.browser
    def test_x(dq_home, streamlit_server, browser_page, wait_idle, screenshot):
        base_url = streamlit_server(dq_home)
        browser_page.goto(base_url)
        wait_idle(browser_page)
        screenshot(browser_page, "x")

Chromium is Debian's (``/usr/bin/chromium``, ``make chromium``), driven through pytest-playwright's
fixtures with the launch arguments below; ``playwright install`` is never needed. Fixture names
here avoid pytest-playwright's own (``page``, ``browser``, ``context``), which use the same Chromium.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
#: The checkout's entry (``streamlit run streamlit_app.py``); the installed one is tested through ``dq console``.
APP_SCRIPT = REPO_ROOT / "streamlit_app.py"
ARTIFACTS_DIR = REPO_ROOT / "tests" / "artifacts"
SCREENSHOTS_DIR = ARTIFACTS_DIR / "screenshots"

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]
#: Set by `make test` (and so CI): a missing Chromium fails the browser tests instead of skipping them.
REQUIRE_BROWSER_ENV = "DQ_REQUIRE_BROWSER"

SERVER_START_TIMEOUT_S = 60.0
SERVER_STOP_TIMEOUT_S = 10.0
HEALTH_POLL_INTERVAL_S = 0.25
#: Milliseconds a page waits for the app to finish a rerun; a cold first run imports pandas and friends.
IDLE_TIMEOUT_MS = 30_000
VIEWPORT = {"width": 1400, "height": 900}
#: Milliseconds within which a rerun triggered by a click or keystroke reaches the page (localhost).
RERUN_START_GRACE_MS = 200


@pytest.fixture
def dq_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh, empty DQ_HOME for this test (the environment variable points at it)."""
    home = tmp_path / "dq_home"
    home.mkdir()
    monkeypatch.setenv("DQ_HOME", str(home))
    return home


# --- the console, served by `streamlit run` -------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _is_healthy(base_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base_url}/_stcore/health", timeout=2) as response:
            return response.status == 200 and response.read().strip() == b"ok"
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=SERVER_STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


#: Each console server's log by its DQ_HOME: a failed browser test shows the tail of its server's.
_SERVER_LOGS: dict[Path, Path] = {}


@pytest.fixture(scope="session")
def streamlit_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[Path], str]]:
    """Factory: ``streamlit_server(dq_home)`` serves the console over that DQ_HOME and returns its base URL.

    One server per DQ_HOME, started on first request (a few seconds) and reused by later calls with
    the same directory; every server is stopped at the end of the session, failed tests included.
    The server's output goes to a log whose tail is shown if it does not become healthy.
    """
    servers: dict[Path, str] = {}
    procs: list[subprocess.Popen[bytes]] = []
    logs_dir = tmp_path_factory.mktemp("streamlit_logs")

    def start(home: Path, *, env: dict[str, str] | None = None) -> str:
        home = Path(home).resolve()
        if home in servers:
            return servers[home]
        port = _free_port()
        base_url = f"http://127.0.0.1:{port}"
        log_path = logs_dir / f"streamlit-{port}.log"
        _SERVER_LOGS[home] = log_path
        command = [
            sys.executable, "-m", "streamlit", "run", str(APP_SCRIPT),
            "--server.headless", "true",
            "--browser.gatherUsageStats", "false",
            "--server.port", str(port),
            "--server.address", "127.0.0.1",
            "--server.fileWatcherType", "none",
        ]  # fmt: skip
        server_env = {
            **os.environ,
            "DQ_HOME": str(home),
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            **(env or {}),
        }
        with log_path.open("wb") as log:
            proc = subprocess.Popen(command, cwd=REPO_ROOT, env=server_env, stdout=log, stderr=subprocess.STDOUT)
        procs.append(proc)
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while not _is_healthy(base_url):
            if proc.poll() is not None or time.monotonic() > deadline:
                _stop(proc)
                tail = log_path.read_text(errors="replace")[-3000:]
                pytest.fail(
                    f"streamlit did not become healthy at {base_url} within {SERVER_START_TIMEOUT_S:.0f} s "
                    f"(exit code {proc.returncode}); log tail:\n{tail}"
                )
            time.sleep(HEALTH_POLL_INTERVAL_S)
        servers[home] = base_url
        return base_url

    try:
        yield start
    finally:
        for proc in procs:
            _stop(proc)


# --- headless Chromium ----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """pytest-playwright's launch arguments, pointed at Debian's Chromium (no `playwright install`)."""
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: run `make chromium` (apt-get install -y chromium)"
        if os.environ.get(REQUIRE_BROWSER_ENV) == "1":
            pytest.fail(message)
        pytest.skip(message)
    return {
        **browser_type_launch_args,
        "executable_path": str(CHROMIUM),
        "headless": browser_type_launch_args.get("headless", True),
        "args": CHROMIUM_ARGS,
    }


@pytest.fixture
def browser_page(new_context: Callable[..., Any]) -> Any:
    """A fresh page in its own browser context, wide enough for the console's wide layout."""
    context = new_context(viewport=VIEWPORT)
    context.set_default_timeout(IDLE_TIMEOUT_MS)
    return context.new_page()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A failed browser test's report gets what a reader of a CI log needs to see why: the page's
    error and alert texts, a screenshot (``FAILED-<test>.png``) and the tail of its server's log."""
    report = yield
    funcargs = getattr(item, "funcargs", {})
    page = funcargs.get("browser_page")
    if report.when != "call" or not report.failed or page is None:
        return report
    try:
        shown = page.locator("[data-testid='stException'], [data-testid='stAlert'], [role='alert']").all_inner_texts()
        _screenshot(page, f"FAILED-{item.name}")
        report.sections.append(("page at the failure", f"url {page.url}\n" + "\n".join(shown or ["(no alert)"])))
    except Exception as error:  # noqa: BLE001 -- a closed page must not hide the test's own failure
        report.sections.append(("page at the failure", f"(could not be read: {error})"))
    home = funcargs.get("dq_home")
    log = _SERVER_LOGS.get(Path(home).resolve()) if home is not None else None
    if log is not None and log.exists():
        report.sections.append(("console server log (tail)", log.read_text(errors="replace")[-4000:]))
    return report


def _wait_idle(page: Any, *, timeout_ms: int = IDLE_TIMEOUT_MS) -> None:
    # A rerun caused by the previous action reaches the page within the grace period; the state reads
    # "initial" until the first run and "running" during one. Elements left from the previous run are
    # marked stale until the new run has replaced them.
    page.wait_for_timeout(RERUN_START_GRACE_MS)
    page.wait_for_selector(
        "[data-testid='stApp'][data-test-script-state='notRunning']", state="attached", timeout=timeout_ms
    )
    page.wait_for_function("() => !document.querySelector(\"[data-stale='true']\")", timeout=timeout_ms)


def _screenshot(page: Any, name: str) -> Path:
    SCREENSHOTS_DIR.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS_DIR / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture
def wait_idle() -> Callable[..., None]:
    """``wait_idle(page)``: block until the app has finished its current rerun (call after every action)."""
    return _wait_idle


@pytest.fixture
def screenshot() -> Callable[[Any, str], Path]:
    """``screenshot(page, name)``: save a full-page PNG to ``tests/artifacts/screenshots/<name>.png``."""
    return _screenshot
