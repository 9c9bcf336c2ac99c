"""Building a run in a background thread (the console's uploads and retrains), polled from any thread.

Pure library: no streamlit.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Self

from dq._util.text import error_line
from dq.auto.pipeline import AutoResult

#: Job states of ``AutoJob.state``.
RUNNING, DONE, FAILED = "running", "done", "failed"


class AutoJob:
    """A function that builds a run (``auto``, ``retrain``: it takes ``progress=`` and ``log=`` and
    returns an ``AutoResult``) running in a background thread; every property is safe to read from
    any thread.

    Examples
    --------
    >>> job = AutoJob.start(auto, "reviews.csv", settings, project="support")  # doctest: +SKIP
    >>> job.state, job.fraction, job.message                  # doctest: +SKIP
    ('running', 0.42, 'embedded 4096 of 10003 texts')
    >>> job.wait(); job.result.path                           # doctest: +SKIP
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state = RUNNING
        self._fraction = 0.0
        self._message = "starting"
        self._result: AutoResult | None = None
        self._error: str | None = None
        self._thread: threading.Thread | None = None

    @classmethod
    def start(cls, build: Callable[..., AutoResult], *args: Any, **kw: Any) -> Self:
        """Start ``build(*args, **kw)`` in a daemon thread and return its job at once."""
        job = cls()
        name = f"dq-{getattr(build, '__name__', 'job')}"
        job._thread = threading.Thread(target=job._work, args=(build, args, kw), name=name, daemon=True)
        job._thread.start()
        return job

    @property
    def state(self) -> str:
        """``"running"``, ``"done"`` or ``"failed"``."""
        with self._lock:
            return self._state

    @property
    def fraction(self) -> float:
        """How far the job is, 0..1, never decreasing; 1.0 once done."""
        with self._lock:
            return self._fraction

    @property
    def message(self) -> str:
        """What the job is doing (or, once over, how it ended)."""
        with self._lock:
            return self._message

    @property
    def result(self) -> AutoResult | None:
        """The new run once done, else None."""
        with self._lock:
            return self._result

    @property
    def error(self) -> str | None:
        """One line saying why the job failed, else None."""
        with self._lock:
            return self._error

    def wait(self, timeout: float | None = None) -> str:
        """Block until the job is over (or ``timeout`` seconds pass); return its state."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self.state

    def _work(self, build: Callable[..., AutoResult], args: tuple[Any, ...], kw: dict[str, Any]) -> None:
        user_progress, user_log = kw.pop("progress", None), kw.pop("log", None)

        def progress(fraction: float, message: str) -> None:
            with self._lock:
                self._fraction = max(self._fraction, min(max(float(fraction), 0.0), 1.0))
                self._message = message
            if user_progress is not None:
                user_progress(fraction, message)

        def log(line: str) -> None:
            with self._lock:
                self._message = line
            if user_log is not None:
                user_log(line)

        try:
            result = build(*args, progress=progress, log=log, **kw)
        except BaseException as exc:  # noqa: BLE001 - a job must never stay "running"; the thread ends here
            with self._lock:
                self._state, self._error = FAILED, error_line(exc)
                self._message = f"failed: {self._error}"
            return
        with self._lock:
            self._state, self._result, self._fraction = DONE, result, 1.0
            self._message = f"{'reused' if result.reused else 'built'} {result.path.name}"
