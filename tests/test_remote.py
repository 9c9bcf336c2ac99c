"""Runs on object storage (``dq push`` / ``dq pull``, ``dq.store.remote``) through pyarrow's
filesystems: a real local S3 server (moto, installed in .venv-s3 by ``make s3``), started and
stopped by this module, and the local filesystem by ``file://`` URIs. A pulled run appears only
whole and checked; a damaged or half-pushed one is refused, and nothing is left behind; no
credential reaches a message."""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from dq.cli import main
from dq.errors import RunFormatError, ValidationError
from dq.insights import has_insights, stored_insights
from dq.store import Run
from dq.store.remote import open_uri, pull_run, push_run
from tests.tiny_runs import fresh_tiny_run

REPO = Path(__file__).resolve().parents[1]
SERVER_BIN = Path(os.environ.get("DQ_S3_SERVER_BIN", REPO / ".venv-s3" / "bin" / "moto_server"))
START_TIMEOUT_S = 30
KEY, SECRET = "AKIADQTESTKEY", "dq-test-secret-never-shown"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A local S3 server with a bucket ``runs``; yields the query every URI to it carries."""
    if not SERVER_BIN.exists():
        message = f"{SERVER_BIN} is missing: run `make s3`"
        if os.environ.get("DQ_REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    port = _free_port()
    log = tmp_path_factory.mktemp("s3") / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([str(SERVER_BIN), "-H", "127.0.0.1", "-p", str(port)], stdout=out, stderr=out)
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2):
                break
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"the S3 server did not start; log tail:\n{log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.3)
    saved = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"] = KEY, SECRET
    query = f"endpoint_override=127.0.0.1:{port}&scheme=http&region=us-east-1"
    filesystem, _ = open_uri(f"s3://runs?{query}&allow_bucket_creation=true")
    filesystem.create_dir("runs")
    try:
        yield query
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture
def run(dq_home: Path) -> Run:
    run = fresh_tiny_run(dq_home)
    stored_insights(run)  # its insights cache travels with it
    return run


def _objects(uri: str) -> dict[str, bytes]:
    from pyarrow import fs

    filesystem, root = open_uri(uri)
    infos = filesystem.get_file_info(fs.FileSelector(root, recursive=True, allow_not_found=True))
    found = {}
    for info in infos:
        if info.type == fs.FileType.File:
            with filesystem.open_input_stream(info.path) as stream:
                found[info.path[len(root) + 1 :]] = stream.read()
    return found


def test_a_run_goes_to_s3_and_comes_back_whole_with_its_insights(s3: str, run: Run, tmp_path: Path) -> None:
    uri = f"s3://runs/team/tiny-r1?{s3}"
    assert push_run(run, uri) == "s3://runs/team/tiny-r1"
    pushed = _objects(uri)
    local = {p.relative_to(run.path).as_posix(): p.read_bytes() for p in run.path.rglob("*") if p.is_file()}
    assert pushed == local and any(name.startswith("_cache/insights/") for name in pushed)

    home = tmp_path / "elsewhere"
    pulled = Run(pull_run(uri, home=home))
    assert pulled.path == home / "runs" / "tiny" / "r1" and pulled.verify()
    assert pulled.content_hash == run.content_hash and has_insights(pulled)  # the cache came along: not recomputed
    here, there = stored_insights(run), stored_insights(pulled)
    for split in run.splits:
        pd.testing.assert_frame_equal(
            there[split].samples.everything().frame(), here[split].samples.everything().frame()
        )
        assert [a.message for a in there[split].alerts] == [a.message for a in here[split].alerts]
    assert [p.name for p in pulled.path.parent.iterdir()] == ["r1"]  # no staging left


def test_a_damaged_or_half_pushed_run_is_refused_and_leaves_nothing(s3: str, run: Run, tmp_path: Path) -> None:
    from pyarrow import fs

    uri = f"s3://runs/damaged?{s3}"
    push_run(run, uri)
    filesystem, root = open_uri(uri)
    part = next(name for name in _objects(uri) if name.startswith("samples/") and name.endswith(".parquet"))
    data = bytearray(_objects(uri)[part])
    data[len(data) // 2] ^= 0xFF
    with filesystem.open_output_stream(f"{root}/{part}") as sink:
        sink.write(bytes(data))
    home = tmp_path / "home"
    with pytest.raises(RunFormatError, match="damaged"):
        pull_run(uri, home=home)
    assert not (home / "runs" / "tiny").exists() or not any((home / "runs" / "tiny").iterdir())

    filesystem.delete_file(f"{root}/run.json")  # as a push that stopped before its last file
    with pytest.raises(RunFormatError, match=r"holds no run\.json"):
        pull_run(uri, home=home)
    assert filesystem.get_file_info(f"{root}/{part}").type == fs.FileType.File  # nothing removed remotely


def test_refusals_name_the_problem_and_never_a_credential(
    s3: str, run: Run, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    uri = f"s3://runs/twice?{s3}"
    push_run(run, uri)
    with pytest.raises(ValidationError, match="already holds files"):
        push_run(run, uri)
    pull_run(uri, home=tmp_path)
    with pytest.raises(ValidationError, match="already exists"):
        pull_run(uri, home=tmp_path)

    with_secret = f"s3://{KEY}:{SECRET}@runs/nothing-here?{s3}"
    assert main(["pull", with_secret, "--home", str(tmp_path / "h")]) == 2
    assert main(["push", str(run.path), f"nosuch://{KEY}:{SECRET}@x/y"]) == 2
    assert main(["pull", "runs/no-scheme"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 3 and "holds no run.json" in err[0] and "cannot be opened" in err[1] and "URI" in err[2]
    assert not any(SECRET in line or KEY in line or "endpoint_override" in line for line in err)


def test_file_uris_through_the_cli(run: Run, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = f"file://{tmp_path}/bucket/r1"
    assert main(["push", str(run.path), target]) == 0
    out = tmp_path / "copy"
    assert main(["pull", target, "--out", str(out)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == str(out)
    assert Run(out).verify() and Run(out).content_hash == run.content_hash
