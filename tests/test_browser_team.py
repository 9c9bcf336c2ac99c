"""A team's console end to end, the way it is deployed: a real OIDC provider (oidc-provider-mock),
``dq serve --auth-config`` and Caddy in front (deploy/Caddyfile, TLS off), driven through Caddy by
headless Chromium.

An anonymous visitor sees no sample text; alice (editor) signs in and relabels two samples; bob
(viewer) signs in, sees alice's edits under her name and has no control to edit, and an edit sent
through the library in his name is refused; carol (signed in, no grant) sees no run. A screenshot
of each step goes to tests/artifacts/screenshots/team-*.png.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import dq.client
from dq.edits import Change, EditsCart
from dq.errors import AccessDenied
from dq.store import Run
from dq.team import Users
from tests.browser_steps import FIRST_ROW_Y, FIRST_VISIT_MS, relabel_ticked, tick_rows
from tests.tiny_runs import log_tiny_run

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parent.parent
CADDYFILE = REPO / "deploy" / "Caddyfile"
START_TIMEOUT_S = 90.0
#: Secrets of the test's auth config: none may reach a page or a log.
CLIENT_SECRET = "client-secret-e2e-0123456789abcdef"
COOKIE_SECRET = "cookie-secret-e2e-0123456789abcdefghijklmnop"
PEOPLE = {
    "alice": {"sub": "alice", "email": "alice@example.com", "name": "Alice"},
    "bob": {"sub": "bob", "email": "bob@example.com", "name": "Bob"},
    "carol": {"sub": "carol", "email": "carol@example.com", "name": "Carol"},
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-3000:]
            pytest.fail(f"{url} did not answer (exit {proc.poll()}); log tail:\n{tail}")
        time.sleep(0.3)


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The tiny run in a team's home, the IdP, dq serve and Caddy; stopped afterwards."""
    caddy = shutil.which("caddy")
    if caddy is None:
        message = "caddy is missing: run `make caddy` (apt-get install -y caddy)"
        if os.environ.get("DQ_REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    base = tmp_path_factory.mktemp("team")
    home = base / "home"
    log_tiny_run(home)
    dq.client._current = None
    users = Users(home / "users.db")
    users.add("alice@example.com", "editor", project="tiny")
    users.add("bob@example.com", "viewer", project="tiny")
    idp_port, console_port, proxy_port = _free_port(), _free_port(), _free_port()
    proxy = f"http://127.0.0.1:{proxy_port}"
    auth = base / "auth.toml"
    auth.write_text(
        "[auth]\n"
        f'redirect_uri = "{proxy}/oauth2callback"\n'
        f'cookie_secret = "{COOKIE_SECRET}"\n'
        'client_id = "dq-studio"\n'
        f'client_secret = "{CLIENT_SECRET}"\n'
        f'server_metadata_url = "http://127.0.0.1:{idp_port}/.well-known/openid-configuration"\n'
    )
    auth.chmod(0o600)
    env = {**os.environ, "DQ_HOME": str(home), "HF_HUB_OFFLINE": "1", "XDG_DATA_HOME": str(base / "xdg"),
           "XDG_CONFIG_HOME": str(base / "xdg")}  # fmt: skip
    procs: list[subprocess.Popen[bytes]] = []
    logs = {name: base / f"{name}.log" for name in ("idp", "serve", "caddy")}

    def start(name: str, command: list[str], extra: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        with logs[name].open("wb") as log:
            proc = subprocess.Popen(
                command, cwd=REPO, env={**env, **(extra or {})}, stdout=log, stderr=subprocess.STDOUT
            )
        procs.append(proc)
        return proc

    try:
        idp_bin = str(Path(sys.executable).with_name("oidc-provider-mock"))
        claims = [arg for person in PEOPLE.values() for arg in ("--user-claims", json.dumps(person))]
        idp = start("idp", [idp_bin, "--port", str(idp_port), *claims])
        _wait_for(f"http://127.0.0.1:{idp_port}/.well-known/openid-configuration", idp, logs["idp"])
        serve = start(
            "serve",
            [sys.executable, "-m", "dq", "serve", "--home", str(home), "--port", str(console_port),
             "--auth-config", str(auth)],
        )  # fmt: skip
        _wait_for(f"http://127.0.0.1:{console_port}/_stcore/health", serve, logs["serve"])
        site = {"DQ_SITE": proxy, "DQ_UPSTREAM": f"127.0.0.1:{console_port}", "DQ_CADDY_ADMIN": "off"}
        proxy_proc = start("caddy", [caddy, "run", "--config", str(CADDYFILE), "--adapter", "caddyfile"], site)
        _wait_for(f"{proxy}/_stcore/health", proxy_proc, logs["caddy"])
        yield {"home": home, "url": proxy, "logs": logs, "run": Run(home / "runs" / "tiny" / "r1")}
    finally:
        for proc in reversed(procs):
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


def _sign_in(page: Any, who: str, url: str, wait_idle: Any) -> None:
    from playwright.sync_api import expect

    page.goto(url)
    wait_idle(page, timeout_ms=FIRST_VISIT_MS)
    page.get_by_role("button", name="Sign in").click()
    page.locator("input[name='sub']").fill(who)  # the provider's own form
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_url(f"{url}/**", timeout=30_000)
    wait_idle(page, timeout_ms=FIRST_VISIT_MS)
    expect(page.get_by_role("button", name="Sign in")).to_have_count(0)


def test_anonymous_editor_viewer_and_stranger_through_caddy(
    team: dict[str, Any], new_context: Any, wait_idle: Any, screenshot: Any
) -> None:
    from playwright.sync_api import expect

    url, run = team["url"], team["run"]
    texts = run.samples("training")["text"].tolist()

    def shot(page: Any, name: str) -> None:
        assert CLIENT_SECRET not in page.content() and COOKIE_SECRET not in page.content()  # no secret on a page
        screenshot(page, name)

    def fresh_page() -> Any:
        context = new_context(viewport={"width": 1400, "height": 900})
        context.set_default_timeout(60_000)
        return context.new_page()

    # An anonymous visitor: the sign-in page and nothing of any run, on any path.
    page = fresh_page()
    for path in ("", "/edits_cart", "/runs"):
        page.goto(url + path)
        wait_idle(page, timeout_ms=FIRST_VISIT_MS)
        expect(page.get_by_role("button", name="Sign in")).to_be_visible()
        content = page.content()
        assert not any(text in content for text in texts[:20]) and "tiny" not in page.inner_text("body")
    shot(page, "team-1-anonymous")

    # alice, an editor: relabels two samples.
    page = fresh_page()
    _sign_in(page, "alice", url, wait_idle)
    expect(page.get_by_text("Signed in as alice@example.com · editor in tiny")).to_be_visible()
    expect(page.get_by_test_id("stSidebarNav").locator("a", has_text="Upload")).to_have_count(1)  # editors build runs
    page.goto(url + "/?label=billing")  # every row billing: relabelling to login changes each
    wait_idle(page, timeout_ms=FIRST_VISIT_MS)
    tick_rows(page, [0, 1], wait_idle)
    relabel_ticked(page, "login", 2, wait_idle)
    shot(page, "team-2-alice-relabeled")
    history = EditsCart(team["home"] / "edits.db").history("tiny/r1", "training")
    assert history["author"].tolist() == ["alice@example.com"] * 2 and set(history["new_value"]) == {"login"}
    relabeled = history["sample_id"].tolist()

    # bob, a viewer: sees alice's edits with her name, has no control that edits.
    page = fresh_page()
    _sign_in(page, "bob", url, wait_idle)
    expect(page.get_by_text("You are a viewer of tiny: changing samples needs the editor role.")).to_be_visible()
    expect(page.get_by_text("Fix these samples")).to_have_count(0)
    expect(page.get_by_test_id("stSidebarNav").locator("a", has_text="Upload")).to_have_count(0)
    page.goto(url + "/?label=billing")  # the rows alice relabeled come first, as she saw them
    wait_idle(page, timeout_ms=FIRST_VISIT_MS)
    grid = page.get_by_test_id("stDataFrame").first
    grid.wait_for(state="visible")
    page.wait_for_timeout(500)
    box = grid.bounding_box()
    page.mouse.click(box["x"] + 200, box["y"] + FIRST_ROW_Y)  # a row's text opens its sample
    wait_idle(page)
    panel = page.get_by_role("dialog")
    expect(panel.get_by_text("alice@example.com relabeled it to login on")).to_be_visible()
    expect(panel.get_by_role("button", name="Relabel")).to_have_count(0)
    shot(page, "team-3-bob-sees-who-changed-a-sample")
    page.keyboard.press("Escape")
    page.get_by_test_id("stSidebarNav").locator("a", has_text="Edits cart").first.click()
    wait_idle(page)
    expect(page.get_by_text("2 of 2 edits of training")).to_be_visible()
    page.get_by_test_id("stMultiSelect").filter(has_text="Author").click()
    expect(page.get_by_role("option", name="alice@example.com")).to_be_visible()  # the authors listed
    page.keyboard.press("Escape")
    for control in ("Undo my last action", "Undo all edits of this split", "Retrain on the fixed data"):
        expect(page.get_by_role("button", name=control)).to_have_count(0)
    shot(page, "team-4-bob-sees-alices-edits")
    # ...and the library refuses what the page does not offer him.
    cart = EditsCart(team["home"] / "edits.db")
    with pytest.raises(AccessDenied, match="bob@example.com is a viewer of project 'tiny'"):
        cart.add(run, "training", [Change(relabeled[0], "remove")], author="bob@example.com")
    with pytest.raises(AccessDenied):
        cart.undo_all("tiny/r1", "training", author="bob@example.com")
    assert len(cart.history("tiny/r1", "training", include_undone=False)) == 2

    # carol, signed in without a grant: told so, and shown no run.
    page = fresh_page()
    page.goto(url)
    wait_idle(page, timeout_ms=FIRST_VISIT_MS)
    page.get_by_role("button", name="Sign in").click()
    page.locator("input[name='sub']").fill("carol")
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_url(f"{url}/**", timeout=30_000)
    wait_idle(page, timeout_ms=FIRST_VISIT_MS)
    expect(page.get_by_text("No access yet")).to_be_visible()
    expect(page.get_by_text("carol@example.com", exact=False).first).to_be_visible()
    assert not any(text in page.content() for text in texts[:20]) and "tiny/r1" not in page.inner_text("body")
    shot(page, "team-5-carol-no-access")

    # No secret in any page or log line.
    for log in team["logs"].values():
        written = log.read_text(errors="replace")
        assert CLIENT_SECRET not in written and COOKIE_SECRET not in written
