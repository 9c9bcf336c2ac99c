"""The console's background jobs: retrains started from the Edits cart, kept for the life of the server.

A page rerun (any click) must find the job it started, and two sessions retraining the same cart
must share one job, so the jobs live in this module, keyed by what they retrain.
"""

from __future__ import annotations

import threading
from typing import Any

import pandas as pd

from dq.edits.retrain import RUNNING, RetrainJob
from dq.store import Run

#: Jobs by key, kept for the life of the process so that a rerun of a console page finds its job.
jobs: dict[str, RetrainJob] = {}
_JOBS_LOCK = threading.Lock()


def start_job(key: str, run: Run, fixed: pd.DataFrame, **kw: Any) -> RetrainJob:
    """Start a retrain under ``key``, or return the one already running under it.

    A job that is over (done or failed) is replaced by a new one.

    >>> job = start_job("demo/banking77:cart-1", run, fixed)     # doctest: +SKIP
    >>> get_job("demo/banking77:cart-1") is job                  # doctest: +SKIP
    True
    """
    with _JOBS_LOCK:
        job = jobs.get(key)
        if job is None or job.state != RUNNING:
            job = jobs[key] = RetrainJob.start(run, fixed, **kw)
        return job


def get_job(key: str) -> RetrainJob | None:
    """The job started under ``key`` in this process, or None."""
    with _JOBS_LOCK:
        return jobs.get(key)
