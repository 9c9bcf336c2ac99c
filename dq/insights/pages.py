"""Pages of a split's cached insights read straight from their Parquet file on disk (DuckDB).

At millions of samples, reading a split's cached frame whole takes seconds; the first page of the
Dataset table (the likeliest data errors) needs only the rows it shows. DuckDB reads the ``dep``
column, keeps the top rows and fetches only their other columns, in a fraction of a second
whatever the split's size. The order is the table's: DEP descending, ties (and missing DEPs,
last) in row order.

>>> import dq, numpy as np, tempfile
>>> from dq.insights import run_insights
>>> from dq.insights.pages import cached_frame, top_rows
>>> _ = dq.init(project="p", run="r", labels=["a", "b"], home=tempfile.mkdtemp())
>>> ids, texts = list(range(40)), [f"t{i}" for i in range(40)]
>>> dq.log_data_samples(texts=texts, labels=["a", "b"] * 20, ids=ids, split="training")
>>> embs, logits = np.random.default_rng(0).normal(size=(40, 8)), np.eye(2)[np.arange(40) % 3 % 2]
>>> dq.log_model_outputs(ids=ids, embs=embs, logits=logits, split="training", epoch=0)
>>> from dq.store import Run
>>> run = Run(dq.finish())
>>> _ = run_insights(run)
>>> page = top_rows(cached_frame(run, "training"), limit=3)
>>> page["dep"].is_monotonic_decreasing, len(page)
(True, 3)
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd

from dq.insights import cache
from dq.insights.settings import InsightSettings
from dq.insights.split_sql import connect
from dq.store.reader import Run

#: Columns a page holds by default: what the Dataset table shows.
PAGE_COLUMNS: tuple[str, ...] = (
    "id", "text", "label", "pred", "dep", "suggested_label", "is_mislabeled", "is_misclassified",
    "is_conflicting_duplicate", "is_near_duplicate", "is_out_of_coverage", "is_outlier", "is_on_boundary",
)  # fmt: skip


def cached_frame(run: Run, split: str, *, settings: InsightSettings = InsightSettings()) -> Path | None:
    """The verified Parquet file of ``split``'s cached insights under ``settings``, or None when
    they are not cached (or their cache entry is damaged: the full read then heals it)."""
    return cache.verified_frame(cache.cache_dir(run, settings.key()), split)


def first_rows(
    run: Run, split: str, *, limit: int, settings: InsightSettings = InsightSettings()
) -> pd.DataFrame | None:
    """The first ``limit`` rows by DEP of ``split``'s cached insights, or None when they are not
    cached or their entry is damaged. The query runs while the file's digest is checked (each about
    a second at 5M rows) and its rows are used only if the file matches."""
    directory = cache.cache_dir(run, settings.key())
    if not cache.is_complete(directory, split):
        return None
    with ThreadPoolExecutor(max_workers=1) as pool:
        rows = pool.submit(top_rows, cache.frame_file(directory, split), limit=limit)
        verified = cache.verified_frame(directory, split) is not None
        try:
            found = rows.result()
        except Exception:  # noqa: BLE001 - a file DuckDB cannot read is a damaged one: the full read heals it
            return None
    return found if verified else None


def top_rows(path: Path, *, limit: int, offset: int = 0, columns: tuple[str, ...] = PAGE_COLUMNS) -> pd.DataFrame:
    """Rows ``offset`` to ``offset + limit`` of the frame at ``path`` by DEP, highest first (ties in
    row order), with ``columns`` that the file has and ``row``, the row's position in the split."""
    with connect(pushdown=True) as con:
        present = {name for (name,) in con.execute("SELECT name FROM parquet_schema(?)", [str(path)]).fetchall()}
        chosen = ", ".join(f'"{c}"' for c in columns if c in present)
        sql = (
            f"SELECT file_row_number AS row, {chosen} FROM read_parquet(?, file_row_number = true) "
            "ORDER BY isnan(dep) OR dep IS NULL, dep DESC, file_row_number LIMIT ? OFFSET ?"
        )
        return con.execute(sql, [str(path), int(limit), int(offset)]).df()
