"""dq.insights: DEP, likely mislabeled samples, duplicates, outliers, clusters, metrics and alerts.

A run of 60 support questions in three topics, two of them labeled wrongly on purpose:

>>> import dq, numpy as np, tempfile
>>> from dq.insights import run_insights
>>> names, topic = ["billing", "delivery", "login"], np.arange(60) % 3
>>> texts = [["refund my charge", "where is my parcel", "reset my password"][t] + f" #{i}" for i, t in enumerate(topic)]
>>> labels = [names[t] for t in topic]
>>> labels[7], labels[11] = "login", "billing"
>>> _ = dq.init(project="support", run="r1", labels=names, home=tempfile.mkdtemp())
>>> dq.log_data_samples(texts=texts, labels=labels, ids=list(range(60)), split="training")
>>> embs = np.eye(8)[topic] + np.random.default_rng(0).normal(scale=0.3, size=(60, 8))
>>> dq.log_model_outputs(ids=list(range(60)), embs=embs, logits=4 * np.eye(3)[topic], split="training", epoch=0)
>>> result = run_insights(dq.finish())["training"]
>>> result.frame.nlargest(2, "dep")["id"].sort_values().tolist()  # the likeliest data errors
[7, 11]
>>> result.frame.loc[result.frame["is_mislabeled"], ["text", "label", "suggested_label"]]
                     text    label suggested_label
7   where is my parcel #7    login        delivery
11  reset my password #11  billing           login
>>> result.alerts[0].message
'About 2 labels look wrong; they are flagged: see their suggested labels.'

Results are cached beside the run (see ``dq.insights.cache``): the first call computes, later
calls read. Pure library: no streamlit.
"""

from __future__ import annotations

from pathlib import Path

from dq._util.steps import Laps
from dq.errors import RunFormatError
from dq.insights import cache
from dq.insights.compute import (
    SplitInsights,
    SplitTables,
    attach_alerts,
    build_reference,
    compute_split,
    split_neighbors,
)
from dq.insights.settings import InsightSettings
from dq.insights.split_rows import SplitRows, StoredSplit
from dq.scale import open_executor, use
from dq.store.reader import Run

__all__ = [
    "InsightSettings",
    "SplitInsights",
    "StoredSplit",
    "has_insights",
    "insights_file",
    "run_insights",
    "split_insights",
    "stored_insights",
]


def _as_run(run: Run | str | Path) -> Run:
    return run if isinstance(run, Run) else Run(run)


def run_insights(
    run: Run | str | Path,
    *,
    settings: InsightSettings = InsightSettings(),
    refresh: bool = False,
    executor: str = "local",
    address: str | None = None,
) -> dict[str, SplitInsights]:
    """Insights of every split of ``run``, from the cache when present (``refresh`` recomputes).

    ``executor`` (``local``, ``ray`` or ``dask``, at ``address`` or on a local cluster started and
    stopped here) runs the nearest-neighbour searches; the results are the same on each (dq.scale).

    The training split is the reference the other splits are compared with. A run of inference
    data only (no labels) gets predictions, confidence, near duplicates, outliers and clusters
    against its own samples; DEP and the metrics need labels, and out-of-coverage the training data.
    """
    run = _as_run(run)
    directory = cache.cache_dir(run, settings.key())
    frames = {split: cache.frame_file(directory, split) for split in run.splits}
    if not refresh:
        cached = {split: cache.load(directory, split, n_samples=run.n_samples(split)) for split in run.splits}
        if all(r is not None for r in cached.values()):
            attach_alerts(cached, frames)  # type: ignore[arg-type]
            return cached  # type: ignore[return-value]
    _compute(run, settings, executor=executor, address=address)
    lap = Laps("all splits")
    results = {split: cache.load(directory, split, n_samples=run.n_samples(split)) for split in run.splits}
    unread = [split for split, result in results.items() if result is None]
    if unread:  # written a moment ago: a disk that loses what was just written
        raise RunFormatError(f"the insights just written to {directory} could not be read back ({', '.join(unread)})")
    attach_alerts(results, frames)  # type: ignore[arg-type]
    lap("read back, alerts")
    return results  # type: ignore[return-value]


def stored_insights(run: Run | str | Path, *, settings: InsightSettings = InsightSettings()) -> dict[str, StoredSplit]:
    """Every split's insights with their per-sample rows left in the cache's files (each split's
    ``samples``, :class:`~dq.insights.split_rows.SplitRows`), computed first when they are not
    cached: what a console over millions of samples reads, in a second instead of the split's frame."""
    run = _as_run(run)
    directory = cache.cache_dir(run, settings.key())

    def read() -> dict[str, tuple[SplitTables, Path] | None]:
        return {split: cache.load_tables(directory, split, n_samples=run.n_samples(split)) for split in run.splits}

    found = read()
    if any(entry is None for entry in found.values()):
        _compute(run, settings, executor="local", address=None)
        found = read()
    unread = [split for split, entry in found.items() if entry is None]
    if unread:
        raise RunFormatError(f"the insights just written to {directory} could not be read back ({', '.join(unread)})")
    results: dict[str, StoredSplit] = {}
    for split, entry in found.items():
        assert entry is not None  # every unread split was raised above
        tables, path = entry
        results[split] = StoredSplit(**vars(tables), samples=SplitRows(path, run.labels))
    attach_alerts(results, {split: entry.samples.path for split, entry in results.items()})
    return results


def insights_file(
    run: Run | str | Path,
    split: str,
    *,
    settings: InsightSettings = InsightSettings(),
    refresh: bool = False,
    executor: str = "local",
    address: str | None = None,
) -> Path:
    """The Parquet file of ``split``'s per-sample insights (the cached frame, its digest checked),
    computed first, for every split, when it is not cached or ``refresh``: for readers that go
    through it in batches or with SQL instead of holding the split as one frame (``dq insights
    --out``). Arguments as for :func:`run_insights`."""
    run = _as_run(run)
    run.check_split(split)
    directory = cache.cache_dir(run, settings.key())
    path = None if refresh else _whole_frame(directory, split, run.n_samples(split))
    if path is None:
        _compute(run, settings, executor=executor, address=address)
        path = _whole_frame(directory, split, run.n_samples(split))
    if path is None:
        raise RunFormatError(f"the insights just written to {directory} could not be read back ({split})")
    return path


def _whole_frame(directory: Path, split: str, n_samples: int) -> Path | None:
    """The verified frame file of a cache entry when it holds ``n_samples`` rows (None otherwise)."""
    path = cache.verified_frame(directory, split)
    if path is None:
        return None
    import pyarrow.parquet as pq

    with pq.ParquetFile(path) as reader:
        return path if reader.metadata.num_rows == n_samples else None


def _compute(run: Run, settings: InsightSettings, *, executor: str, address: str | None) -> None:
    """Compute every split's insights and write them to the cache, each split's per-sample frame
    to its file as it is computed (never held whole)."""
    directory = cache.cache_dir(run, settings.key())
    with open_executor(executor, address) as ex, use(ex):
        reference = build_reference(run, settings)
        neighbors = {split: split_neighbors(run, split, reference, settings) for split in run.splits}
        reference.index = None  # every split's neighbours are found: the embeddings can go
        for split in run.splits:
            staging = cache.staging_frame_file(directory, split)
            found = neighbors.pop(split)
            try:
                computed = compute_split(run, split, reference, found, settings, staging)
                cache.save(directory, computed, neighbors=found.own)
            finally:
                staging.unlink(missing_ok=True)  # moved into place, or the computation failed
            del computed


def has_insights(run: Run | str | Path, *, settings: InsightSettings = InsightSettings()) -> bool:
    """Whether every split's insights under ``settings`` are cached, so :func:`run_insights` only reads."""
    run = _as_run(run)
    directory = cache.cache_dir(run, settings.key())
    return all(cache.is_complete(directory, split) for split in run.splits)


def split_insights(
    run: Run | str | Path,
    split: str,
    *,
    settings: InsightSettings = InsightSettings(),
    refresh: bool = False,
    with_map: bool = False,
    executor: str = "local",
    address: str | None = None,
) -> SplitInsights:
    """Insights of one split (computing, and caching, every split of the run on a cold cache).

    ``with_map`` adds the 2-D map coordinates as columns ``x`` and ``y`` (a separate cached step,
    the slowest one: UMAP); ``executor`` and ``address`` as for :func:`run_insights`.
    """
    run = _as_run(run)
    run.check_split(split)
    result = run_insights(run, settings=settings, refresh=refresh, executor=executor, address=address)[split]
    if with_map:
        from dataclasses import replace

        from dq.insights.maps import split_map

        xy = split_map(run, split, settings=settings)
        result = replace(result, frame=result.frame.assign(x=xy[:, 0], y=xy[:, 1]))
    return result
