"""Serve the console with the first visit already paid for: ``python -m app.serve [streamlit options]``.

``streamlit run streamlit_app.py`` starts a bare process: the first browser to open the console
waits for the console's imports (Streamlit's widgets, Altair, Plotly, NumPy, FAISS) and for the
newest run's insights to be read. This launcher does both before it starts the same server, so the
address it prints opens at once; when the newest run's insights are not on disk yet (computing
them can take minutes), it reads them in a thread beside the server instead, and the page shows
its progress. The loaders are Streamlit's process-wide resource caches, so the first session finds
them filled (or waits for the preload in progress instead of repeating it). ``make run`` uses it;
any ``streamlit run`` option can follow.
"""

from __future__ import annotations

import logging
import sys
import threading
from pathlib import Path

from app.data import load_insights, open_run
from dq.insights import has_insights
from dq.store import Run, list_runs

ENTRY = Path(__file__).resolve().parent.parent / "streamlit_app.py"
_LOG = logging.getLogger("dq.console")
PRELOAD_THREAD = "dq-console-preload"


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
    import app.actions  # noqa: F401 - imported for its side effect: the modules are loaded once
    import app.map_chart  # noqa: F401
    from app.charts import split_arrays
    from app.filters import filtered
    from app.state import SESSION_DEFAULTS, URL_KEYS

    run = _newest_run()
    if run is None:
        return None
    split = run.splits[0]  # the split shown first
    insights = load_insights(str(run.path), run.content_hash)[split]
    filtered(insights, state={**URL_KEYS, **SESSION_DEFAULTS})  # the unfiltered view, highest DEP first
    split_arrays(str(run.path), run.content_hash, split, tuple(run.labels), insights)
    return str(run.path)


def _preload_quietly() -> None:
    try:
        preload()
    except Exception:  # noqa: BLE001 - a failed preload only means the first visit does the work
        _LOG.warning("preloading the console failed; the first visit will load it", exc_info=True)


def main(argv: list[str] | None = None) -> None:
    """Preload (before the server when the insights are on disk, else beside it), then
    ``streamlit run streamlit_app.py`` with ``argv`` in this process."""
    from streamlit.web import cli

    # The preload calls the cached loaders outside any page run; Streamlit would warn about the
    # missing script context, which only matters for code that draws, and the preload draws nothing.
    logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").addFilter(
        lambda record: record.threadName != PRELOAD_THREAD)
    preload_thread = threading.Thread(target=_preload_quietly, name=PRELOAD_THREAD, daemon=True)
    preload_thread.start()
    if newest_insights_cached():
        preload_thread.join()  # a second or two: the printed address then opens at once
    sys.argv = ["streamlit", "run", str(ENTRY), *(sys.argv[1:] if argv is None else argv)]
    cli.main()


if __name__ == "__main__":
    main()
