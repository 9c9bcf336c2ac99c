"""dq studio: find and fix bad training data for text classification.

Log a run with the client (``dq.init`` ... ``dq.finish``) or build one from a file with
``dq auto``; then read it with :class:`dq.store.Run`.
"""

from dq.client import finish, init, log_data_samples, log_dataset, log_model_outputs
from dq.config import VERSION as __version__
from dq.errors import DQError
from dq.store import Run, list_runs

__all__ = [
    "DQError",
    "Run",
    "__version__",
    "finish",
    "init",
    "list_runs",
    "log_data_samples",
    "log_dataset",
    "log_model_outputs",
]
