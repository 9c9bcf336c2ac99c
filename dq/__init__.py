"""dq studio: find and fix bad training data for text classification.

Log a run with the client (``dq.init`` ... ``dq.finish``) or build one from a file with
``dq auto``; then read it with :class:`dq.store.Run`.
"""

__version__ = "0.1.0"

from dq.client import finish, init, log_data_samples, log_dataset, log_model_outputs  # noqa: E402
from dq.errors import DQError  # noqa: E402
from dq.store import Run, list_runs  # noqa: E402

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
