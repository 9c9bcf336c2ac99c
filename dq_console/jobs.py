"""The console's background jobs (retrains started from the Edits cart, runs built from uploads),
kept for the life of the server, and the progress bar that follows one.

A page rerun (any click) must find the job it started, and two sessions starting the same job
must share it, so the jobs live in this module, keyed by what they build.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import streamlit as st

from dq.auto.jobs import RUNNING, AutoJob
from dq.auto.pipeline import AutoResult

#: Jobs by key, kept for the life of the process so that a rerun of a console page finds its job.
jobs: dict[str, AutoJob] = {}
_JOBS_LOCK = threading.Lock()


def start_job(key: str, build: Callable[..., AutoResult], *args: Any, **kw: Any) -> AutoJob:
    """Start ``build(*args, **kw)`` (``retrain``, ``build_upload``) under ``key``, or return the job
    already running under it. A job that is over (done or failed) is replaced by a new one.

    >>> job = start_job("demo/banking77:cart-1", retrain, run, fixed)     # doctest: +SKIP
    >>> get_job("demo/banking77:cart-1") is job                           # doctest: +SKIP
    True
    """
    with _JOBS_LOCK:
        job = jobs.get(key)
        if job is None or job.state != RUNNING:
            job = jobs[key] = AutoJob.start(build, *args, **kw)
        return job


def get_job(key: str) -> AutoJob | None:
    """The job started under ``key`` in this process, or None."""
    with _JOBS_LOCK:
        return jobs.get(key)


@st.fragment(run_every=1.0)
def job_progress(key: str, doing: str) -> None:
    """A progress bar for the running job under ``key`` ("Retraining", "Building the run"). Only this
    fragment reruns while the job runs; when it ends, the whole page reruns to show the result."""
    job = get_job(key)
    if job is None or job.state != RUNNING:
        st.rerun()
    st.progress(min(max(job.fraction, 0.0), 1.0), text=f"{doing}: {job.message}")
