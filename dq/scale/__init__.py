"""Where dq's batch work runs: this process (``local``), a Ray cluster or a Dask cluster.

The per-partition steps (embedding texts, nearest-neighbour search) are plain batch functions; an
:class:`~dq.scale.executors.Executor` maps one over a list of batches, on this machine or on the
engine's workers, and the results come back in order. The same functions run on every executor:
nothing is re-implemented per engine (docs/scale.md).
"""

from dq.scale.executors import EXECUTORS, Executor, active, open_executor, use

__all__ = ["EXECUTORS", "Executor", "active", "open_executor", "use"]
