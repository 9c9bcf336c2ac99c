"""The Label Studio round trip against a real Label Studio server (its own virtual environment,
``make labelstudio``), started and stopped by this module: samples go out as tasks with their label
as a prediction scored by DEP, annotators' labels come back as cart edits authored by them."""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from edits_fixtures import run  # noqa: F401 - pytest fixture

from dq.edits import Change, EditsCart, run_key
from dq.edits.apply import labelers_frame
from dq.edits.labelstudio import (
    LabelStudioError,
    LabelStudioServer,
    project_title,
    pull_labels,
    send_to_label_studio,
)
from dq.errors import AccessDenied, ValidationError
from dq.store import Run
from dq.team import Users

REPO = Path(__file__).resolve().parent.parent
SERVER_BIN = Path(os.environ.get("DQ_LABEL_STUDIO_BIN", REPO / ".venv-labelstudio" / "bin" / "label-studio"))
TOKEN = "dq0123456789abcdef0123456789abcdef012345"
START_TIMEOUT_S = 180.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabelStudioServer]:
    if not SERVER_BIN.exists():
        message = f"{SERVER_BIN} is missing: run `make labelstudio`"
        if os.environ.get("DQ_REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    data = tmp_path_factory.mktemp("label-studio")
    port = _free_port()
    log = data / "server.log"
    command = [
        str(SERVER_BIN), "start", "--no-browser", "--port", str(port), "--data-dir", str(data / "data"),
        "--username", "owner@example.com", "--password", "owner-password-123", "--user-token", TOKEN,
        "--enable-legacy-api-token",
    ]  # fmt: skip
    env = {**os.environ, "HOME": str(data)}  # its config and database stay in the test's folder
    with log.open("wb") as out:
        proc = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=data)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    break
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"Label Studio did not start at {url}; log tail:\n{log.read_text(errors='replace')[-3000:]}")
        time.sleep(1)
    try:
        yield LabelStudioServer(url, TOKEN)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def _annotate(server: LabelStudioServer, run: Run, split: str, choices: dict[str, tuple[str, str | None]]) -> None:
    """What annotators do in Label Studio's UI, through its API: sample id -> (annotator, label;
    None: a cancelled annotation)."""
    from label_studio_sdk import LabelStudio

    client = LabelStudio(base_url=server.url, api_key=server.api_key)
    users = {u.email: u.id for u in client.users.list()}
    [project] = [
        p for p in client.projects.list(title=project_title(run, split)) if p.title == project_title(run, split)
    ]
    tasks = {str(t.data["id"]): t for t in client.tasks.list(project=project.id)}
    for sample_id, (email, label) in choices.items():
        if email not in users:
            users[email] = client.users.create(email=email, username=email).id
        result = [] if label is None else [
            {"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": [label]}}
        ]  # fmt: skip
        client.annotations.create(
            id=tasks[sample_id].id, result=result, completed_by=users[email], was_cancelled=label is None
        )


def test_send_then_pull_labels_back_as_the_annotators_edits(
    server: LabelStudioServer, run: Run, tmp_path: Path
) -> None:  # noqa: F811
    cart = EditsCart(tmp_path / "edits.db")
    samples = run.samples("training", columns=["id", "label"])
    ids = samples["id"].astype(str).tolist()[:4]
    cart.add(run, "training", [Change(i, "send_to_labelers") for i in ids], author="me")
    out = labelers_frame(run, "training", cart=cart)
    assert sorted(out["id"].astype(str)) == sorted(ids)

    sent = send_to_label_studio(run, "training", out, server=server, by="me", cart=cart)
    assert (sent.created, sent.updated) == (4, 0) and sent.project_url.endswith(f"/projects/{sent.project_id}")
    again = send_to_label_studio(run, "training", out, server=server, by="me", cart=cart)
    assert (again.project_id, again.created, again.updated) == (sent.project_id, 0, 0)  # never duplicated
    cart.add(run, "training", [Change(ids[0], "edit_text", None, "a corrected text")], author="me")
    edited = send_to_label_studio(
        run, "training", labelers_frame(run, "training", cart=cart), server=server, by="me", cart=cart
    )
    assert (edited.created, edited.updated) == (0, 1)

    label_of = dict(zip(samples["id"].astype(str), samples["label"]))
    other = {i: next(lab for lab in run.labels if lab != label_of[i]) for i in ids}
    _annotate(server, run, "training", {
        ids[0]: ("ann@example.com", other[ids[0]]),  # a new label
        ids[1]: ("ann@example.com", label_of[ids[1]]),  # the same label: nothing to change
        ids[2]: ("raj@example.com", other[ids[2]]),
        ids[3]: ("raj@example.com", None),  # cancelled: skipped
    })  # fmt: skip
    pulled = pull_labels(run, "training", server=server, by="me", cart=cart)
    assert pulled.annotated == 3 and pulled.relabeled == {"ann@example.com": 1, "raj@example.com": 1}
    relabels = cart.history(run_key(run), "training", action="relabel")
    assert dict(zip(relabels["sample_id"], relabels["author"])) == {
        ids[0]: "ann@example.com",
        ids[2]: "raj@example.com",
    }
    assert dict(zip(relabels["sample_id"], relabels["new_value"])) == {ids[0]: other[ids[0]], ids[2]: other[ids[2]]}
    assert pull_labels(run, "training", server=server, by="me", cart=cart).relabeled == {}  # pulled before: nothing new


def test_a_teams_home_lets_only_editors_send_and_pull(server: LabelStudioServer, run: Run, tmp_path: Path) -> None:  # noqa: F811
    cart = EditsCart(tmp_path / "edits.db")
    users = Users(tmp_path / "users.db")
    users.add("ed@example.com", "editor", project=run.project)
    users.add("vi@example.com", "viewer", project=run.project)
    cart.add(
        run, "training", [Change(run.samples("training")["id"].iloc[5], "send_to_labelers")], author="ed@example.com"
    )
    frame = labelers_frame(run, "training", cart=cart)
    with pytest.raises(AccessDenied, match="vi@example.com is a viewer"):
        send_to_label_studio(run, "training", frame, server=server, by="vi@example.com", cart=cart)
    with pytest.raises(AccessDenied, match="vi@example.com is a viewer"):
        pull_labels(run, "training", server=server, by="vi@example.com", cart=cart)
    assert send_to_label_studio(run, "training", frame, server=server, by="ed@example.com", cart=cart).project_id > 0


def test_a_wrong_key_or_server_is_one_line_without_the_key(server: LabelStudioServer, run: Run, tmp_path: Path) -> None:  # noqa: F811
    cart = EditsCart(tmp_path / "edits.db")
    frame = run.samples("training", columns=["id", "text", "label"]).head(2).assign(dep=0.5)
    wrong = LabelStudioServer(server.url, "not-the-key-0123456789")
    with pytest.raises(LabelStudioError, match=r"refused the API key \(401\)") as err:
        send_to_label_studio(run, "training", frame, server=wrong, by="me", cart=cart)
    assert "not-the-key" not in str(err.value) and "\n" not in str(err.value)
    nowhere = LabelStudioServer(f"http://127.0.0.1:{_free_port()}", TOKEN)
    with pytest.raises(LabelStudioError, match="cannot be reached") as err:
        send_to_label_studio(run, "training", frame, server=nowhere, by="me", cart=cart)
    assert TOKEN not in str(err.value) and TOKEN not in repr(nowhere)
    with pytest.raises(ValidationError, match="LABEL_STUDIO_API_KEY"):
        LabelStudioServer.from_settings({"LABEL_STUDIO_URL": server.url})
    assert LabelStudioServer.from_settings({}, {"label_studio": {"url": server.url, "api_key": TOKEN}}) == server
    assert LabelStudioServer.from_settings({}) is None


def test_the_edits_cart_page_sends_and_pulls(
    server: LabelStudioServer, dq_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The page's buttons, with the server from the environment (AppTest: the real page script)."""
    from streamlit.testing.v1 import AppTest

    import dq.client
    from tests.tiny_runs import log_tiny_run

    log_tiny_run(dq_home, seed=7)
    dq.client._current = None
    run = Run(dq_home / "runs" / "tiny" / "r1")
    monkeypatch.setenv("LABEL_STUDIO_URL", server.url)
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", server.api_key)
    samples = run.samples("training", columns=["id", "label"])
    wanted = samples["id"].astype(str).tolist()[40:42]
    EditsCart().add(run, "training", [Change(i, "send_to_labelers") for i in wanted], author="me")
    at = AppTest.from_file(str(REPO / "dq_console" / "streamlit_app.py"), default_timeout=120)
    at.run()
    at.switch_page("pages/edits_cart.py").run()
    assert not at.exception, at.exception
    assert any(server.url in c.value for c in at.caption)
    at.button(key="ls_send").click().run()
    assert not at.exception, at.exception
    # (AppTest runs the page's own script after switch_page, so the entry script's toasts stay queued)
    assert at.session_state["notices"][-1][0] == "Sent 2 new tasks to Label Studio."
    assert at.get("link_button")  # the project's address
    new = next(lab for lab in run.labels if lab != dict(zip(samples["id"].astype(str), samples["label"]))[wanted[0]])
    _annotate(server, run, "training", {wanted[0]: ("ann@example.com", new)})
    at.button(key="ls_pull").click().run()
    assert not at.exception, at.exception
    history = EditsCart().history(run_key(run), "training", action="relabel")
    mine = history[history["sample_id"] == wanted[0]]
    assert mine[["author", "new_value"]].values.tolist() == [["ann@example.com", new]]
    pulled = at.session_state["notices"][-1][0]
    # (the server's project is the same run's as the tests' above: their annotations come back too)
    assert pulled.startswith("Pulled ") and "added to the cart, by ann@example.com (" in pulled, pulled
    assert server.api_key not in str([c.value for c in at.caption]) + str(at.session_state["notices"])
