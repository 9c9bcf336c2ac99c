"""Timing the steps of a long computation: each step's seconds and the process's peak memory so far,
logged at INFO on ``dq.steps`` (``dq insights -v`` and ``dq auto -v`` print them; bench/bench_scale.py reads them).

>>> with step("example"):
...     pass
"""

from __future__ import annotations

import contextlib
import logging
import resource
import sys
import time
from collections.abc import Iterator

LOG = logging.getLogger("dq.steps")


def peak_rss_bytes() -> int:
    """The peak resident memory of this process so far (``ru_maxrss``: KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


@contextlib.contextmanager
def step(name: str) -> Iterator[None]:
    """Log ``name``'s wall seconds and the peak RSS at its end (``step=<name> seconds=<s> peak_gb=<g>``)."""
    start = time.perf_counter()
    try:
        yield
    finally:
        _log(name, time.perf_counter() - start)


def _log(name: str, seconds: float) -> None:
    LOG.info("step=%s seconds=%.2f peak_gb=%.2f", name, seconds, peak_rss_bytes() / 1024**3)


class Laps:
    """Consecutive steps timed by one call each at its end: ``lap = Laps("training"); ...; lap("dep")``
    logs ``step=training/dep`` with the seconds since the previous lap (or since created)."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self._last = time.perf_counter()

    def __call__(self, name: str) -> None:
        now = time.perf_counter()
        _log(f"{self.prefix}/{name}", now - self._last)
        self._last = now
