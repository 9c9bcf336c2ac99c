"""The console launcher's preload: the first visit finds the newest run's insights already loaded."""

from __future__ import annotations

from pathlib import Path

import dq.client
from dq.store import Run
from dq_console.data import load_insights
from dq_console.serve import newest_insights_cached, preload
from tests.tiny_runs import log_tiny_run


def test_preload_without_runs_does_nothing(dq_home: Path) -> None:
    assert preload() is None
    assert not newest_insights_cached()


def test_preload_fills_the_cache_the_first_visit_reads(dq_home: Path) -> None:
    log_tiny_run(dq_home)
    dq.client._current = None
    assert not newest_insights_cached()  # the launcher then preloads beside the server, not before it
    path = preload()
    assert newest_insights_cached()
    run = Run(dq_home / "runs" / "tiny" / "r1")
    assert path == str(run.path)
    cached = load_insights(str(run.path), run.content_hash)
    assert load_insights(str(run.path), run.content_hash) is cached  # served from the cache
    assert set(cached) == set(run.splits)


def test_the_server_listens_on_loopback_with_the_consoles_settings_and_no_file_watcher() -> None:
    from dq_console.serve import parse_args, streamlit_options

    args, rest = parse_args(["--port", "8600", "--server.maxUploadSize=50"])
    assert (args.host, args.port, rest) == ("127.0.0.1", 8600, ["--server.maxUploadSize=50"])
    options = streamlit_options(host=args.host, port=args.port)
    assert {
        "--server.address=127.0.0.1",
        "--server.port=8600",
        "--server.fileWatcherType=none",
        "--runner.magicEnabled=false",
        "--theme.primaryColor=#2563eb",
    } <= set(options)
