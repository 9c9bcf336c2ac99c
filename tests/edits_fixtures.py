"""Fixtures shared by the edits tests (test_edits_*.py, test_cli_export.py import them); no tests here.

Each importing module gets its own tiny run (module scope), logged with the public client.
"""

from __future__ import annotations

import pandas as pd
import pytest
from tiny_runs import log_tiny_run

from dq.insights import split_insights
from dq.store import Run

#: log_tiny_run flips the label of training samples 7, 14, ..., 42 (its planted errors).
PLANTED = [7, 14, 21, 28, 35, 42]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """The tiny three-topic run: 90 training and 30 test samples, int ids, two epochs."""
    home = tmp_path_factory.mktemp("home")
    log_tiny_run(home)
    return Run(home / "runs" / "tiny" / "r1")


@pytest.fixture(scope="module")
def insights(run: Run) -> pd.DataFrame:
    """The insights frame of the tiny run's training split (computed once, then cached beside the run)."""
    return split_insights(run, "training").frame
