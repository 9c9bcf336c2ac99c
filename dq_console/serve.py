"""Serve the console: ``dq console`` and ``make run`` (``python -m dq_console.serve [--home] [--port] [--host]``).

``streamlit run streamlit_app.py`` starts a bare process: the first browser to open the console
waits for the console's imports (Streamlit's widgets, Altair, Plotly, NumPy, FAISS) and for the
newest run's insights to be read. This launcher does both before it starts the same server, so the
address it prints opens at once; when the newest run's insights are not on disk yet (computing
them can take minutes), it reads them in a thread beside the server instead, and the page shows
its progress. The loaders are Streamlit's process-wide resource caches, so the first session finds
them filled (or waits for the preload in progress instead of repeating it).

It serves the installed package's own entry (``dq_console/streamlit_app.py``) with the console's
settings (``dq_console/streamlit_config.toml``, the file a checkout's ``.streamlit/config.toml``
links to) passed as options, so an installed console looks and behaves like a checkout's from any
working directory. It listens on 127.0.0.1 unless ``--host`` says otherwise, and Streamlit's file
watcher is off: a served console does not change under it, and watching a run directory while a
run is written flooded the log with inotify overflows. Any other ``streamlit run`` option can follow.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
import tomllib
from pathlib import Path

from dq.config import CONSOLE_HOST, CONSOLE_PORT
from dq.insights import has_insights
from dq.store import Run, list_runs
from dq_console.data import READER_THREAD, load_insights, open_run

ENTRY = Path(__file__).resolve().parent / "streamlit_app.py"
#: The console's Streamlit settings (theme, no magic, headless); a checkout's .streamlit/config.toml links here.
CONFIG_FILE = Path(__file__).resolve().parent / "streamlit_config.toml"
_LOG = logging.getLogger("dq.console")
#: Under the readers' prefix: its missing-script-context warnings are filtered with theirs (dq_console.data).
PRELOAD_THREAD = f"{READER_THREAD}-preload"


def _newest_run() -> Run | None:
    """The newest finished run: the one the picker opens first."""
    finished = [e for e in list_runs() if e.finished]
    return open_run(finished[0]) if finished else None


def newest_insights_cached() -> bool:
    """Whether the newest finished run's insights are on disk (so reading them takes a moment)."""
    run = _newest_run()
    return run is not None and has_insights(run)


def preload() -> str | None:
    """Import what the pages import and read the newest finished run's insights; returns its path."""
    import dq_console.actions  # noqa: F401 - imported for its side effect: the modules are loaded once
    import dq_console.map_chart  # noqa: F401
    from dq_console.filters import filtered
    from dq_console.state import SESSION_DEFAULTS, URL_KEYS

    run = _newest_run()
    if run is None:
        return None
    split = run.splits[0]  # the split shown first
    insights = load_insights(str(run.path), run.content_hash)[split]
    rows = filtered(insights, state={**URL_KEYS, **SESSION_DEFAULTS})  # the unfiltered view
    _ = rows.ids, rows.dep, insights.samples.codes("label"), insights.samples.codes("pred")  # what its page reads
    return str(run.path)


def _preload_quietly() -> None:
    try:
        preload()
    except Exception:  # noqa: BLE001 - a failed preload only means the first visit does the work
        _LOG.warning("preloading the console failed; the first visit will load it", exc_info=True)


def streamlit_options(*, host: str, port: int) -> list[str]:
    """``streamlit run`` options: the console's settings file, then where to listen, no file watcher."""
    with CONFIG_FILE.open("rb") as f:
        settings = tomllib.load(f)
    options = [
        f"--{section}.{key}={_option_value(value)}"
        for section, values in settings.items()
        for key, value in values.items()
    ]
    return [*options, f"--server.address={host}", f"--server.port={port}", "--server.fileWatcherType=none"]


def _option_value(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def parse_args(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    """dq's own options; the rest is passed to ``streamlit run`` as it is."""
    parser = argparse.ArgumentParser(prog="dq console", description="Serve the dq studio console.")
    parser.add_argument("--home", type=Path, help="dq's files (runs, cart, caches); default $DQ_HOME or ~/.dq")
    parser.add_argument(
        "--host",
        default=CONSOLE_HOST,
        help=f"address to listen on (default {CONSOLE_HOST}: this machine only; 0.0.0.0 for every interface)",
    )
    parser.add_argument("--port", type=int, default=CONSOLE_PORT, help=f"port (default {CONSOLE_PORT})")
    return parser.parse_known_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Preload (before the server when the insights are on disk, else beside it), then serve the
    console in this process; ``argv`` as for ``dq console`` plus any ``streamlit run`` option."""
    args, rest = parse_args(sys.argv[1:] if argv is None else argv)
    if args.home is not None:
        os.environ["DQ_HOME"] = str(args.home.expanduser().resolve())
    from streamlit.web import cli

    preload_thread = threading.Thread(target=_preload_quietly, name=PRELOAD_THREAD, daemon=True)
    preload_thread.start()
    if newest_insights_cached():
        preload_thread.join()  # a second or two: the printed address then opens at once
    print(f"dq console: serving {os.environ.get('DQ_HOME') or '~/.dq'} on http://{args.host}:{args.port}", flush=True)
    sys.argv = ["streamlit", "run", str(ENTRY), *streamlit_options(host=args.host, port=args.port), *rest]
    cli.main()


if __name__ == "__main__":
    main()
