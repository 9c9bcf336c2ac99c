"""Executors: map a batch function over batches here, on Ray, or on Dask.

``open_executor("dask", address=None)`` starts a local cluster (2 workers × 1 thread) when no
address is given, connects to ``address`` otherwise, and stops what it started on exit; ``"ray"``
does the same with ``ray.init`` (``address="auto"`` or ``"ray://host:10001"`` for a running
cluster). ``use(executor)`` makes it the one :func:`active` returns, so that the steps deep in
dq.auto and dq.insights find it without every signature carrying it.

>>> with open_executor("local") as ex, use(ex):
...     active().map(pow, [2, 3], shared={"exp": 2})
[4, 9]
"""

from __future__ import annotations

import contextlib
import importlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from dq.errors import MissingExtraError, ValidationError

EXECUTORS: tuple[str, ...] = ("local", "ray", "dask")
#: Workers of the cluster started when no address is given (this machine: 2 cores).
LOCAL_CLUSTER_WORKERS = 2
#: Threads of the local executor for thread-safe batch functions (``map(..., threads=True)``).
LOCAL_THREADS = min(os.cpu_count() or 1, 8)


@dataclass
class Executor:
    """Runs ``fn(item, **shared)`` for every item, in order. ``workers``: how many run at once."""

    name: str
    workers: int = 1
    _map: Callable[[Callable[..., Any], list[Any], dict[str, Any]], list[Any]] | None = field(default=None, repr=False)

    def map(
        self, fn: Callable[..., Any], items: list[Any], *, shared: dict[str, Any] | None = None, threads: bool = False
    ) -> list[Any]:
        """``[fn(item, **shared) for item in items]``, on this executor; ``shared`` is sent to each
        worker once (large arrays: an index, a model name). ``threads``: ``fn`` is thread-safe and
        spends its time in code that releases the GIL (numpy, faiss), so the local executor runs the
        items on one thread per core, BLAS single-threaded meanwhile (the engines' workers already
        are one per core)."""
        shared = shared or {}
        if self._map is None:
            if threads and len(items) > 1 and LOCAL_THREADS > 1:
                return _on_threads(fn, items, shared)
            return [fn(item, **shared) for item in items]
        return self._map(fn, items, shared)


def _on_threads(fn: Callable[..., Any], items: list[Any], shared: dict[str, Any]) -> list[Any]:
    from concurrent.futures import ThreadPoolExecutor

    from threadpoolctl import threadpool_limits

    # The BLAS limit is set once around the pool: a limit entered and left inside each thread would
    # race (one thread restoring the library's threads while another still runs).
    with threadpool_limits(limits=1, user_api="blas"), ThreadPoolExecutor(LOCAL_THREADS) as pool:
        return list(pool.map(lambda item: fn(item, **shared), items))


_LOCAL = Executor("local")
#: Values sent with each task rather than scattered to the workers first.
_PLAIN = (type(None), bool, int, float, str)
_active: list[Executor] = [_LOCAL]


def active() -> Executor:
    """The executor of the enclosing :func:`use` block (``local`` outside any)."""
    return _active[-1]


@contextlib.contextmanager
def use(executor: Executor) -> Iterator[Executor]:
    """Make ``executor`` the one :func:`active` returns inside the block."""
    _active.append(executor)
    try:
        yield executor
    finally:
        _active.pop()


def _require(module: str, extra: str) -> Any:
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name is not None and exc.name.split(".")[0] != module.split(".")[0]:
            raise
        raise MissingExtraError(f"--executor {extra} needs {module}: pip install 'dq-studio[{extra}]'") from None


@contextlib.contextmanager
def open_executor(name: str, address: str | None = None) -> Iterator[Executor]:
    """An executor for ``name`` (one of :data:`EXECUTORS`), connected to ``address`` or to a cluster
    started here and stopped on exit."""
    if name not in EXECUTORS:
        raise ValidationError(f"The 'executor' parameter must be one of {list(EXECUTORS)}. Got {name!r} instead.")
    if name == "local":
        if address is not None:
            raise ValidationError("The 'address' parameter needs --executor ray or dask. Got it with local.")
        yield _LOCAL
    elif name == "dask":
        with _dask(address) as executor:
            yield executor
    else:
        with _ray(address) as executor:
            yield executor


@contextlib.contextmanager
def _dask(address: str | None) -> Iterator[Executor]:
    distributed = _require("distributed", "dask")
    cluster = None
    if address is None:
        cluster = distributed.LocalCluster(
            n_workers=LOCAL_CLUSTER_WORKERS, threads_per_worker=1, processes=True, dashboard_address=None
        )
    client = distributed.Client(cluster if cluster is not None else address)
    try:
        workers = max(1, len(client.scheduler_info().get("workers", {})))

        def run(fn: Callable[..., Any], items: list[Any], shared: dict[str, Any]) -> list[Any]:
            # The large shared values go to every worker once (small ones travel with the tasks: a
            # scattered None can be lost in replication); under names of their own, so that a value
            # named like one of client.map's options (batch_size) is not taken for it.
            refs = {k: v if isinstance(v, _PLAIN) else client.scatter(v, broadcast=True) for k, v in shared.items()}
            futures = client.map(_apply, client.scatter(items), dq_fn=fn, dq_shared=refs, pure=False)
            return list(client.gather(futures))

        yield Executor("dask", workers, run)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


@contextlib.contextmanager
def _ray(address: str | None) -> Iterator[Executor]:
    ray = _require("ray", "ray")
    started = not ray.is_initialized()
    if started:
        options: dict[str, Any] = {"address": address} if address else {"num_cpus": LOCAL_CLUSTER_WORKERS}
        ray.init(**options, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
    try:
        workers = max(1, int(ray.cluster_resources().get("CPU", 1)))
        call = ray.remote(num_cpus=1)(_call)

        def run(fn: Callable[..., Any], items: list[Any], shared: dict[str, Any]) -> list[Any]:
            refs = {k: ray.put(v) for k, v in shared.items()}
            return list(ray.get([call.remote(fn, item, refs) for item in items]))

        yield Executor("ray", workers, run)
    finally:
        if started:
            ray.shutdown()


def _apply(item: Any, *, dq_fn: Callable[..., Any], dq_shared: dict[str, Any]) -> Any:
    """A Dask task: ``dq_fn(item, **dq_shared)`` (the futures in ``dq_shared`` arrive resolved)."""
    return dq_fn(item, **dq_shared)


def _call(fn: Callable[..., Any], item: Any, refs: dict[str, Any]) -> Any:
    """A Ray task: the shared values arrive as object references inside a dict, fetched here."""
    import ray

    return fn(item, **{k: ray.get(v) for k, v in refs.items()})
