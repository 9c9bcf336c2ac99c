"""The run store: writing (``RunWriter``) and reading (``Run``, ``list_runs``) run directories."""

from dq.store.reader import Outputs, Run, RunEntry, list_runs, read_run_json
from dq.store.writer import RunWriter

__all__ = ["Outputs", "Run", "RunEntry", "RunWriter", "list_runs", "read_run_json"]
