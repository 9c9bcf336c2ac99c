"""A split's per-sample insights as SQL (DuckDB): counts and means over the cached Parquet file,
with a sample filter (``dq.insights.filters``) as a WHERE clause.

The alerts read their numbers here, over the file the computation wrote, so finding them never
needs the split as one frame: DuckDB reads only the columns a query names, in parallel, a few
hundred milliseconds at 5M rows. A filter means the same here as in ``apply_filter`` (tested
against it, over a Parquet file): a value of another kind than the column's matches nothing, and
a missing value matches nothing but a list holding one (text: None; numbers: NaN). Two forms it
refuses where apply_filter runs: a text search on a column that is not text (pandas and SQL
write numbers and flags out differently) and a range with bounds of another kind.

>>> import pandas as pd
>>> frame = pd.DataFrame({"label": ["a", "b", "a"], "dep": [0.9, 0.2, float("nan")]})
>>> with SplitSQL(frame) as samples:
...     samples.n_rows, samples.count({"label": "a", "dep": {"min": 0.5}}), samples.mean("dep", {"label": "a"})
(3, 1, 0.9)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import scipy.sparse as sp

from dq._util.regex import compile_regex
from dq.errors import ValidationError
from dq.insights.filters import RANGE_KEYS, SampleFilter, check_column, check_condition

#: DuckDB's names of the column types a filter compares as numbers, as text, as booleans.
_FLOAT_TYPES = frozenset({"FLOAT", "DOUBLE"})
_NUMBER_TYPES = _FLOAT_TYPES | {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT"}
_NUMBER_TYPES |= {"UINTEGER", "UBIGINT"}
_TEXT_TYPES = frozenset({"VARCHAR"})
#: The column DuckDB numbers a Parquet file's rows in (from 0, in file order).
ROW_NUMBER = "file_row_number"


def connect(*, pushdown: bool = False) -> Any:
    """A DuckDB connection for a split's Parquet file.

    DuckDB trusts a float column's Parquet min/max, which leave NaN out, for every value: its
    statistics propagation folds ``isnan(x)`` to false and ``x <= max`` to true (NaN rows pass
    every bound), and a filter pushed into the scan skips the row groups whose statistics say no
    NaN (DuckDB 2.0.1; tests/test_split_sql.py). Both are turned off here, the pushdown unless
    ``pushdown`` (a query with no filter on a float column: the table's page by DEP, whose rows are
    fetched by row number through it): the filters run on the rows read.
    """
    import duckdb

    con = duckdb.connect()
    disabled = "statistics_propagation" if pushdown else "statistics_propagation,filter_pushdown"
    con.execute(f"SET disabled_optimizers = '{disabled}'")
    return con


class SplitSQL:
    """One split's per-sample insights in DuckDB: a Parquet file (read where it lies) or a frame.

    Use it as a context manager (the connection is closed on leaving)."""

    def __init__(self, source: Path | pd.DataFrame | pa.Table) -> None:
        self._con = connect()
        self._is_file = isinstance(source, Path)
        try:
            if isinstance(source, Path):  # its rows numbered from 0 in file order: ``positions``
                self._con.read_parquet(str(source), file_row_number=True).create_view("samples")
            else:
                self._con.register("samples", source)
            described = [row for row in self._con.execute("DESCRIBE samples").fetchall() if row[0] != ROW_NUMBER]
            self.n_rows = int(self._scalar("SELECT count(*) FROM samples", []))
        except Exception:
            self._con.close()
            raise
        self.columns: list[str] = [str(row[0]) for row in described]
        self._types = {str(row[0]): str(row[1]).upper() for row in described}

    def __enter__(self) -> SplitSQL:
        return self

    def __exit__(self, *exc: object) -> None:
        self._con.close()

    def count(self, sample_filter: SampleFilter | None = None) -> int:
        """How many samples match every condition of ``sample_filter`` (all of them for None)."""
        where, params = self.where(sample_filter)
        return int(self._scalar(f"SELECT count(*) FROM samples WHERE {where}", params))

    def mean(self, column: str, sample_filter: SampleFilter | None = None) -> float | None:
        """The mean of ``column`` over the matching samples (booleans as 0/1; missing values and NaN
        left out), or None when no value is left."""
        check_column(column, self.columns)
        where, params = self.where(sample_filter)
        value = _quoted(column)
        if self._types[column] in _FLOAT_TYPES:
            where = f"({where}) AND NOT isnan({value})"
        mean = self._scalar(f"SELECT avg(CAST({value} AS DOUBLE)) FROM samples WHERE {where}", params)
        return None if mean is None else float(mean)

    def positions(self, sample_filter: SampleFilter | None = None) -> np.ndarray:
        """The rows (their positions in the file, ascending, int64) that match ``sample_filter``."""
        if not self._is_file:
            raise TypeError("positions are the rows of a Parquet file: open SplitSQL on a path")
        where, params = self.where(sample_filter)
        sql = f"SELECT {ROW_NUMBER} FROM samples WHERE {where} ORDER BY {ROW_NUMBER}"
        found = self._run(sql, params).fetchnumpy()[ROW_NUMBER]
        return np.asarray(found, dtype=np.int64)

    def distinct(self, column: str, limit: int) -> list[Any]:
        """Up to ``limit`` distinct non-missing values of ``column``, sorted."""
        check_column(column, self.columns)
        value = _quoted(column)
        present = f"{value} IS NOT NULL" + (f" AND NOT isnan({value})" if self._types[column] in _FLOAT_TYPES else "")
        sql = f"SELECT DISTINCT {value} FROM samples WHERE {present} ORDER BY 1 LIMIT ?"
        return [row[0] for row in self._run(sql, [int(limit)]).fetchall()]

    def kind(self, column: str) -> str:
        """DuckDB's type of ``column`` (``FLOAT``, ``BIGINT``, ``VARCHAR``, ``BOOLEAN``...)."""
        check_column(column, self.columns)
        return self._types[column]

    def confusion(self, class_names: Sequence[str]) -> tuple[sp.csr_array, int]:
        """The (classes, classes) confusion matrix of the labeled samples (rows: ``label``, columns:
        ``pred``, both names of ``class_names``) and how many samples have no label."""
        rows = self._con.execute(
            "SELECT label, pred, count(*) FROM samples WHERE label IS NOT NULL GROUP BY label, pred"
        ).fetchall()
        index = {name: i for i, name in enumerate(class_names)}
        unknown = sorted({str(name) for label, pred, _ in rows for name in (label, pred) if name not in index})
        if unknown:
            raise ValueError(f"labels or predictions outside the run's classes: {unknown[:5]}")
        n = len(class_names)
        cells = np.array([(index[label], index[pred], count) for label, pred, count in rows], dtype=np.int64)
        cells = cells.reshape(-1, 3)
        cm = sp.coo_array((cells[:, 2], (cells[:, 0], cells[:, 1])), shape=(n, n)).tocsr()
        return cm, int(self._scalar("SELECT count(*) FROM samples WHERE label IS NULL", []))

    def where(self, sample_filter: SampleFilter | None) -> tuple[str, list[Any]]:
        """``sample_filter`` as a WHERE clause over this split's columns and its parameters."""
        parts: list[str] = []
        params: list[Any] = []
        for column, condition in (sample_filter or {}).items():
            check_column(column, self.columns)
            check_condition(condition, column)
            part, values = _condition_sql(_quoted(column), condition, column, self._types[column])
            parts.append(part)
            params.extend(values)
        return " AND ".join(parts) or "TRUE", params

    def _scalar(self, sql: str, params: list[Any]) -> Any:
        row = self._run(sql, params).fetchone()
        return None if row is None else row[0]

    def _run(self, sql: str, params: list[Any]) -> Any:
        import duckdb

        try:
            return self._con.execute(sql, params)
        except duckdb.InvalidInputException as exc:  # a pattern DuckDB's RE2 will not build
            reason = str(exc).splitlines()[0]
            raise ValidationError(f"The filter cannot be run over this split's file: {reason}") from None


def _quoted(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


def _condition_sql(value: str, condition: Any, column: str, kind: str) -> tuple[str, list[Any]]:
    """One condition over the column ``value`` of DuckDB type ``kind``, as apply_filter means it: a
    value of another kind than the column's matches nothing (DuckDB would cast it: "1" = 1)."""
    is_float = kind in _FLOAT_TYPES
    if kind == "BOOLEAN":  # compared with numbers as NumPy compares them: True is 1
        value = f"CAST({value} AS DOUBLE)"
    if isinstance(condition, dict):
        if set(condition) <= RANGE_KEYS:
            limits = (("min", ">="), ("max", "<="))
            bounds = [(op, condition[key]) for key, op in limits if condition.get(key) is not None]
            if not bounds:  # no bound: every sample, missing values included
                return "TRUE", []
            if not all(_fits(bound, kind) for _, bound in bounds):
                raise ValidationError(
                    f"The filter on {column!r} compares its values with {[b for _, b in bounds]!r}, which are not "
                    f"of the column's kind ({kind.lower()})."
                )
            parts = [f"{value} IS NOT NULL"]
            if is_float:  # NaN sorts above every number in DuckDB; a bound never holds for it
                parts.append(f"NOT isnan({value})")
            parts += [f"{value} {op} ?" for op, _ in bounds]
            return "(" + " AND ".join(parts) + ")", [_rounded(bound, kind) for _, bound in bounds]
        if kind not in _TEXT_TYPES:  # a number or a flag written out reads differently in pandas and SQL
            raise ValidationError(
                f"The filter on {column!r} searches text, but the column holds {kind.lower()} values: "
                "use a value, a list or {'min','max'}."
            )
        text = f"coalesce({value}, '')"
        if "contains" in condition:
            return f"contains(lower({text}), lower(?))", [str(condition["contains"])]
        pattern = str(condition["regex"])
        compile_regex(pattern, what=f"The regex filter on {column!r}")  # refused as apply_filter refuses it
        return f"regexp_matches({text}, ?)", [pattern]
    if isinstance(condition, (list, tuple, set, np.ndarray)):
        values = [v for v in condition if not _is_missing(v) and _fits(v, kind)]
        parts = [f"{value} IN ({', '.join('?' for _ in values)})"] if values else []
        if kind in _TEXT_TYPES and any(v is None or (isinstance(v, float) and np.isnan(v)) for v in condition):
            parts.append(f"{value} IS NULL")  # isin matches a missing text with a missing value
        elif is_float and any(isinstance(v, float) and np.isnan(v) for v in condition):
            parts.append(f"isnan({value}) OR {value} IS NULL")  # ... NaN with NaN (None matches nothing there)
        return "(" + (" OR ".join(parts) or "FALSE") + ")", values
    if _is_missing(condition) or not _fits(condition, kind):
        return "FALSE", []
    return f"{value} = ?", [_rounded(condition, kind)]


def _fits(value: Any, kind: str) -> bool:
    """Whether ``value`` compares with a column of DuckDB type ``kind`` as pandas compares it."""
    is_number = isinstance(value, (int, float, np.number)) and not isinstance(value, str)
    if kind in _NUMBER_TYPES or kind == "BOOLEAN":
        return is_number or isinstance(value, (bool, np.bool_))
    if kind in _TEXT_TYPES:
        return isinstance(value, str)
    return True


def _rounded(value: Any, kind: str) -> Any:
    """A number compared with a float32 column, rounded to float32 first, as NumPy compares it (a
    bound of 0.1 matches a DEP stored as 0.1f; beyond float32's range it becomes infinite)."""
    if kind != "FLOAT" or isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
        return value
    with np.errstate(over="ignore"):
        return float(np.float32(value))


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))
