"""``pip install .`` into a clean virtual environment, outside the checkout, then ``dq console``.

What a user who never clones the repository gets: the distribution must carry the console (its
pages, its Streamlit settings) and the demo's shipped embeddings, and ``dq console`` must serve
the same console as ``make run``, on 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import HEALTH_POLL_INTERVAL_S, REPO_ROOT, _free_port, _is_healthy, _stop

pytestmark = pytest.mark.browser

INSTALL_TIMEOUT_S = 600
SERVER_START_TIMEOUT_S = 120
FIRST_VISIT_MS = 180_000
COUNT = re.compile(r"Showing [\d,–]+ of ([\d,]+) samples \(([\d,]+) in (\w+)\)")
#: What the distribution is built from: the tracked sources, not caches or the checkout's .venv.
_NOT_SOURCES = shutil.ignore_patterns(
    ".venv",
    ".git",
    "tests",
    "bench",
    "docs",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    ".pytest_cache",
    ".hypothesis",
)


def _uv() -> str:
    """The uv that `make venv` installs beside .venv (or one on PATH)."""
    beside = Path(sys.prefix) / "uv" / "bin" / "uv"
    found = str(beside) if beside.exists() else shutil.which("uv")
    if found is None:
        pytest.fail("uv is needed to install the locked dependencies quickly: run `make venv`")
    return found


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clean virtual environment holding the core dependencies (pinned by the lock) and ``pip install .``."""
    root = tmp_path_factory.mktemp("installed")
    source = root / "source"
    shutil.copytree(REPO_ROOT, source, ignore=_NOT_SOURCES, symlinks=True)
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    # The core dependencies only (no extras): the console must run without the integrations' frameworks.
    core = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    (root / "core.txt").write_text("\n".join(core) + "\n", encoding="utf-8")
    subprocess.run(
        [
            _uv(),
            "pip",
            "install",
            "--quiet",
            "--python",
            str(python),
            "-c",
            str(REPO_ROOT / "requirements.lock"),
            "-r",
            str(root / "core.txt"),
        ],
        check=True,
        timeout=INSTALL_TIMEOUT_S,
    )
    # The package itself with pip, as a user would: not editable, built from a copy, from elsewhere.
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--no-deps", str(source)],
        check=True,
        cwd=root,
        timeout=INSTALL_TIMEOUT_S,
    )
    shutil.rmtree(source)  # nothing may be read from the sources after the install
    return venv


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "DQ_HOME", "VIRTUAL_ENV")}
    return {**env, "HF_HUB_OFFLINE": "1", **extra}


def test_the_installed_package_holds_the_console_and_the_library(installed: Path, tmp_path: Path) -> None:
    code = (
        "import dq, dq_console, dq.auto.embed, pathlib; "
        "print(dq.__file__); print(dq_console.__file__); "
        "print(sorted(p.name for p in pathlib.Path(dq_console.__file__).parent.joinpath('pages').glob('*.py')))"
    )
    out = subprocess.run(
        [str(installed / "bin" / "python"), "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
        env=_clean_env(),
    ).stdout.splitlines()
    assert all(Path(line).is_relative_to(installed) for line in out[:2]), out
    assert out[2] == str(
        ["clusters.py", "dataset.py", "edits_cart.py", "embeddings.py", "runs.py", "team.py", "upload.py"]
    )
    # Without the extras the integrations say which extra they need, in one line.
    result = subprocess.run(
        [str(installed / "bin" / "python"), "-c", "import dq.integrations.setfit"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=_clean_env(),
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].endswith("pip install 'dq-studio[setfit]'")


@pytest.fixture
def console(installed: Path, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The demo built by the installed ``dq demo``, then ``dq console --home`` serving it; (base URL, log)."""
    home = tmp_path / "home"
    demo = subprocess.run(
        [str(installed / "bin" / "dq"), "demo", "--quiet"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=_clean_env(DQ_HOME=str(home)),
        timeout=INSTALL_TIMEOUT_S,
    )
    assert demo.returncode == 0, demo.stderr
    assert demo.stdout.strip() == str(home / "runs" / "demo" / "banking77")
    port = _free_port()
    log_path = tmp_path / "console.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [str(installed / "bin" / "dq"), "console", "--home", str(home), "--port", str(port)],
            cwd=tmp_path,
            env=_clean_env(),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while not _is_healthy(base_url):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"dq console did not answer at {base_url}: {log_path.read_text(errors='replace')[-3000:]}")
            time.sleep(HEALTH_POLL_INTERVAL_S)
        yield base_url, log_path
    finally:
        _stop(proc)


def test_dq_console_serves_the_demo_from_a_plain_install(
    console: tuple[str, Path],
    browser_page: Any,
    wait_idle: Callable[..., None],
    screenshot: Callable[[Any, str], Path],
) -> None:
    from playwright.sync_api import expect

    base_url, log_path = console
    page = browser_page
    page.goto(base_url + "/")
    wait_idle(page, timeout_ms=FIRST_VISIT_MS)
    caption = page.get_by_test_id("stMain").get_by_text(COUNT).first
    caption.wait_for(state="visible", timeout=FIRST_VISIT_MS)
    assert COUNT.search(caption.inner_text()).groups() == ("9,038", "9,038", "training")
    page.get_by_test_id("stDataFrame").first.wait_for(state="visible")
    nav = page.get_by_test_id("stSidebarNav")
    for name in ("Dataset", "Embeddings", "Clusters", "Edits cart", "Runs"):
        expect(nav.locator("a", has_text=name)).to_have_count(1)
    expect(page).to_have_title(re.compile("Dataset · dq studio"))
    assert not page.locator("[data-testid='stException']").count()
    # The console's own settings came with it: its theme color, not Streamlit's default red.
    primary = page.evaluate("getComputedStyle(document.querySelector('[data-testid=\"stSidebar\"]')).backgroundColor")
    assert primary == "rgb(243, 245, 248)", primary
    screenshot(page, "installed-console-dataset")
    log = log_path.read_text(errors="replace")
    assert "on http://127.0.0.1:" in log  # the start-up line says where it listens: this machine only
    assert "Inotify" not in log and "Traceback" not in log
