"""A split's per-sample insights read where they lie: the rows a view shows, never the split as a frame.

:class:`SplitRows` is a handle on a split's verified Parquet file in the insights cache. The few
whole columns every view needs (ids, DEP, class indices, the probability matrix) are read once, on
demand, as NumPy arrays; the text, the metadata and the flags are read for the rows shown (a page,
a sample and its neighbours) by their row numbers. A filter is a DuckDB query over the file
(``dq.insights.split_sql``: it means there what ``apply_filter`` means over a frame) that returns
the positions of the rows it keeps: a :class:`RowSet`. At 5M samples the console holds a few
hundred megabytes of arrays where the split's frame took 3.6 GB, and a page of 50 rows is read in a
tenth of a second.

>>> import dq, numpy as np, tempfile
>>> from dq.insights import stored_insights
>>> _ = dq.init(project="p", run="r", labels=["a", "b"], home=tempfile.mkdtemp())
>>> ids = list(range(40))
>>> dq.log_data_samples(texts=[f"t{i}" for i in ids], labels=["a", "b"] * 20, ids=ids, split="training")
>>> logits = np.eye(2)[np.arange(40) % 3 % 2]
>>> dq.log_model_outputs(ids=ids, embs=np.random.default_rng(0).normal(size=(40, 8)), logits=logits,
...                      split="training", epoch=0)
>>> samples = stored_insights(dq.finish())["training"].samples
>>> rows = samples.select({"label": ["a"], "text": {"contains": "1"}})
>>> len(rows), rows.page(1, size=3)["dep"].is_monotonic_decreasing
(5, True)
>>> samples.take([3, 0], columns=["id", "text"]).to_dict("list")
{'id': [3, 0], 'text': ['t3', 't0']}
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from dq.insights import cache
from dq.insights.alerts import Alert
from dq.insights.compute import SplitTables, label_indices
from dq.insights.filters import SampleFilter
from dq.insights.frame_file import insert_probs, probs_matrix
from dq.insights.split_sql import ROW_NUMBER, SplitSQL, connect

#: Rows fetched by a list of their numbers in the query; more go through a table of them.
_LISTED_ROWS = 10_000


class SplitRows:
    """A split's per-sample insights in their Parquet file (``path``, verified when it was found);
    ``classes``: the run's class names, for the class indices. Safe to share between threads."""

    def __init__(self, path: Path, classes: Sequence[str]) -> None:
        self.path = Path(path)
        self.classes = list(classes)
        with SplitSQL(self.path) as samples:
            #: The file's columns, in order (``probs`` among them).
            self.columns: list[str] = list(samples.columns)
            self.n_rows: int = samples.n_rows
            self._kinds = {column: samples.kind(column) for column in self.columns}
        self._arrays: dict[str, np.ndarray] = {}
        self._distinct: dict[tuple[str, int], list[Any]] = {}
        self._neighbors: np.ndarray | None = None
        self._neighbors_read = False
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return self.n_rows

    def kind(self, column: str) -> str:
        """DuckDB's type of ``column`` (``FLOAT``, ``BIGINT``, ``VARCHAR``, ``BOOLEAN``...)."""
        return self._kinds[column]

    def column(self, name: str) -> np.ndarray:
        """The whole column ``name`` as a NumPy array (read once; never modify it): the ids, DEP,
        clusters and map colours of every row. ``probs`` is the (n, classes) float32 matrix."""
        with self._lock:
            if name not in self._arrays:
                self._arrays[name] = self._read(name)
            return self._arrays[name]

    def codes(self, name: str) -> np.ndarray:
        """Class index of each row's ``label`` or ``pred`` (-1: missing), read once."""
        key = f"{name}\x00codes"
        with self._lock:
            if key not in self._arrays:
                values = pq.read_table(self.path, columns=[name]).column(0)
                self._arrays[key] = label_indices(values, self.classes)
            return self._arrays[key]

    def _read(self, name: str) -> np.ndarray:
        if name not in self.columns:
            raise KeyError(f"the insights of this split have no column {name!r}")
        values = pq.read_table(self.path, columns=[name]).column(0).combine_chunks()
        if name == "probs":
            return probs_matrix(values)
        return np.asarray(values.to_numpy(zero_copy_only=False))

    def neighbors(self) -> np.ndarray | None:
        """Each row's nearest neighbours in the split as the insights found them (records ``row``
        and ``sim``, a read-only memory map; rows -1 where fewer were found), checked against the
        cache entry's digest once; None for an entry that does not keep them, or a damaged file."""
        with self._lock:
            if not self._neighbors_read:
                self._neighbors = cache.verified_neighbors(self.path.parent, self.path.stem, n_samples=self.n_rows)
                self._neighbors_read = True
            return self._neighbors

    def everything(self) -> RowSet:
        """Every row of the split."""
        return RowSet(self, np.arange(self.n_rows, dtype=np.int64))

    def select(self, sample_filter: SampleFilter | None = None, *, ids: Sequence[Any] | None = None) -> RowSet:
        """The rows that match ``sample_filter`` (SQL over the file) and, when given, whose id is one
        of ``ids`` (a map selection); a filter that cannot run raises ``ValidationError``."""
        if sample_filter:
            with SplitSQL(self.path) as samples:
                positions = samples.positions(sample_filter)
        else:
            positions = np.arange(self.n_rows, dtype=np.int64)
        if ids is not None:
            positions = np.intersect1d(positions, self.positions_of(ids), assume_unique=True)
        return RowSet(self, positions)

    def positions_of(self, ids: Sequence[Any], *, as_text: bool = False) -> np.ndarray:
        """The rows (ascending) of the samples whose id is one of ``ids``; ``as_text``: ``ids`` are
        ids written as text (the edits cart's keys, ``str(id)``), matched without writing every
        id of the split out as text."""
        wanted = list(ids)
        if as_text and self.kind("id") != "VARCHAR":
            wanted = [int(key) for key in map(str, wanted) if key.lstrip("-").isdigit() and str(int(key)) == key]
        return np.flatnonzero(pd.Series(self.column("id")).isin(wanted).to_numpy())

    def position_of(self, sample_id: Any) -> int | None:
        """The row of the sample ``sample_id``, or None when the split has no such sample."""
        found = np.flatnonzero(self.column("id") == sample_id)
        return int(found[0]) if len(found) else None

    def distinct(self, column: str, limit: int) -> list[Any]:
        """Up to ``limit`` distinct values of ``column``, sorted (missing values left out); queried
        once per column and limit (the file never changes), not on every rerun of a page."""
        with self._lock:
            if (column, limit) not in self._distinct:
                with SplitSQL(self.path) as samples:
                    self._distinct[column, limit] = samples.distinct(column, limit)
            return list(self._distinct[column, limit])

    def take(self, positions: Sequence[int] | np.ndarray, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """The rows at ``positions``, in that order, with ``columns`` (every column by default) and
        the positions as the index; ``probs`` comes as one array per row, as in a split's frame."""
        rows = np.asarray(positions, dtype=np.int64).reshape(-1)
        names = [c for c in (columns if columns is not None else self.columns) if c in self._kinds]
        chosen = ", ".join(f'"{c}"' for c in names)
        with connect(pushdown=True) as con:  # no float is filtered: the row numbers prune the row groups
            con.read_parquet(str(self.path), file_row_number=True).create_view("samples")
            if len(rows) <= _LISTED_ROWS:
                wanted = ", ".join(str(r) for r in rows.tolist()) or "NULL"
            else:
                con.register("wanted", pa.table({"row": rows}))
                wanted = "SELECT row FROM wanted"
            sql = f"SELECT {ROW_NUMBER}{', ' if chosen else ''}{chosen} FROM samples WHERE {ROW_NUMBER} IN ({wanted})"
            table = con.sql(sql).to_arrow_table()
        found = pd.Index(table.column(ROW_NUMBER).to_numpy())
        table = table.take(pa.array(found.get_indexer(rows))).drop_columns([ROW_NUMBER])
        matrix = None
        if "probs" in table.column_names:
            matrix = probs_matrix(table.column("probs"))
            table = table.drop_columns(["probs"])
        frame = table.to_pandas()
        if matrix is not None:
            insert_probs(frame, matrix)
        frame.index = pd.Index(rows)
        return frame


@dataclass(frozen=True, eq=False)
class RowSet:
    """Rows of a split (``positions``: their rows in the split's file, ascending)."""

    samples: SplitRows
    positions: np.ndarray

    def __len__(self) -> int:
        return len(self.positions)

    @property
    def is_whole(self) -> bool:
        """Whether these are every row of the split."""
        return len(self.positions) == self.samples.n_rows

    @cached_property
    def ids(self) -> np.ndarray:
        """The rows' sample ids, in row order."""
        return self.samples.column("id")[self.positions]

    @cached_property
    def dep(self) -> np.ndarray:
        """The rows' DEP (float64, NaN where missing), in row order."""
        return self.samples.column("dep")[self.positions].astype(np.float64)

    def codes(self, name: str) -> np.ndarray:
        """The rows' class indices of ``label`` or ``pred`` (-1: missing), in row order."""
        return self.samples.codes(name)[self.positions]

    def page(self, number: int, *, size: int, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """Page ``number`` (1-based, clipped to the pages there are) of ``size`` rows, highest DEP
        first (ties, and missing DEPs last, in row order), with ``columns`` (every one by default)
        read for its rows only."""
        page = min(max(int(number), 1), n_pages(len(self), size))
        first = (page - 1) * size
        return self.samples.take(self.positions[top_by_dep(self.dep, first + size)[first:]], columns)

    def frame(self, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """These rows as a frame with ``columns`` (for an action on all of them: read, then let go)."""
        return self.samples.take(self.positions, columns)


@dataclass(eq=False)
class StoredSplit(SplitTables):
    """A split's insights as a console reads them: the tables and the alerts in memory, the
    per-sample rows in their file (``samples``)."""

    samples: SplitRows
    alerts: list[Alert] = field(default_factory=list)


def n_pages(n_rows: int, size: int) -> int:
    """Pages of ``size`` rows needed for ``n_rows`` rows (at least one, empty or not).

    >>> n_pages(0, 50), n_pages(101, 50)
    (1, 3)
    """
    return max(1, math.ceil(n_rows / size))


def top_by_dep(dep: np.ndarray, stop: int) -> np.ndarray:
    """Positions of the ``stop`` highest DEPs, highest first, ties (and missing DEPs, last) in row
    order: the head of a stable sort by DEP descending, without sorting every row (a page of a
    5M-row view costs a partition, not a sort).

    >>> top_by_dep(np.array([0.2, 0.9, np.nan, 0.9, 0.5]), 3).tolist()
    [1, 3, 4]
    """
    key = np.where(np.isnan(dep), np.inf, -dep)
    stop = min(max(stop, 0), len(key))
    if stop == len(key):
        return np.argsort(key, kind="stable")
    if stop == 0:
        return np.zeros(0, dtype=np.int64)
    kth = np.partition(key, stop - 1)[stop - 1]
    above = np.flatnonzero(key < kth)
    chosen = np.concatenate([above, np.flatnonzero(key == kth)[: stop - len(above)]])
    return chosen[np.lexsort((chosen, key[chosen]))]
