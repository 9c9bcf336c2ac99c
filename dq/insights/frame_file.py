"""A split's per-sample insights written straight to Parquet, batch by batch: never one frame.

The computed columns (a few NumPy arrays of one value per sample) and the split's samples as
Arrow columns (id, text, label, metadata) are cut into batches of rows and written one batch at a
time, with the probabilities as a fixed-size list column last. The driver holds no pandas frame of
the whole split and no Python object per sample: at 5M samples the frame and its conversion to
Arrow were the largest things the driver held after the neighbour search.

The file is what the insights cache reads (``dq.insights.cache``) and what DuckDB pages and
aggregates (``dq.insights.pages``, ``dq.insights.split_sql``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from dq._util.fileio import atomic_path
from dq.insights.split_sql import ROW_NUMBER
from dq.store.integrity import file_digest

#: Rows written at a time (one Parquet row group each): about 60 MB of columns at 20 classes.
BATCH_ROWS = 262_144
#: Columns taken from the samples as they are; every other sample column is metadata.
SAMPLE_COLUMNS = ("id", "text", "label")


def probs_matrix(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A read ``probs`` column (a list of probabilities a row: fixed-size from Parquet, plain lists
    from DuckDB) as one (rows, classes) float32 matrix.

    >>> probs_matrix(pa.array([[0.25, 0.75], [1.0, 0.0]], type=pa.list_(pa.float32(), 2))).tolist()
    [[0.25, 0.75], [1.0, 0.0]]
    """
    values = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    width = values.type.list_size if pa.types.is_fixed_size_list(values.type) else len(values[0]) if len(values) else 0
    return values.flatten().to_numpy(zero_copy_only=False).reshape(len(values), width).astype(np.float32, copy=False)


def insert_probs(frame: Any, matrix: np.ndarray) -> None:
    """Put ``matrix``'s rows into ``frame`` as its ``probs`` column (an array a row), after ``pred``
    where the frame has it: where a split's insights frame has them."""
    at = frame.columns.get_loc("pred") + 1 if "pred" in frame.columns else len(frame.columns)
    frame.insert(at, "probs", list(matrix))


def frame_layout(samples: pa.Table, computed: Mapping[str, np.ndarray]) -> list[tuple[str, bool, str]]:
    """(name in the file, computed?, source column) for every column but ``probs``, in the file's order:
    id, text, label, the computed columns, then the metadata (sorted; ``meta_<name>`` where a name clashes).

    >>> t = pa.table({"id": [1], "text": ["a"], "label": ["x"], "pred": ["w"], "channel": ["web"]})
    >>> [name for name, _, _ in frame_layout(t, {"pred": np.array(["x"]), "dep": np.array([0.5])})]
    ['id', 'text', 'label', 'pred', 'dep', 'channel', 'meta_pred']
    >>> t = pa.table({"id": [1], "text": ["a"], "label": ["x"], "meta_pred": [1], "pred": [2], "probs": [3]})
    >>> [name for name, _, _ in frame_layout(t, {"pred": np.array(["x"])})][4:]
    ['meta_pred', 'meta_meta_pred', 'meta_probs']
    """
    layout = [(c, False, c) for c in SAMPLE_COLUMNS] + [(c, True, c) for c in computed]
    taken = {name for name, _, _ in layout} | {"probs", ROW_NUMBER}  # DuckDB numbers the file's rows in ROW_NUMBER
    for column in sorted(set(samples.column_names) - set(SAMPLE_COLUMNS)):
        name = column
        while name in taken:  # a metadata name that clashes gets "meta_" in front (again, if need be)
            name = f"meta_{name}"
        taken.add(name)
        layout.append((name, False, column))
    return layout


def write_frame_file(
    path: Path,
    samples: pa.Table,
    computed: Mapping[str, np.ndarray],
    probs: np.ndarray,
    *,
    batch_rows: int = BATCH_ROWS,
) -> str:
    """Write one split's per-sample insights to ``path`` (atomically) and return the file's digest.

    ``samples``: the split's samples (id, text, label, metadata) as Arrow; ``computed``: one array per
    insight column, in the file's order (object arrays of text, None for a missing value); ``probs``:
    the (n, classes) probability matrix, stored float32 as the last column.
    """
    n = samples.num_rows
    if any(len(values) != n for values in computed.values()) or len(probs) != n:
        raise ValueError("every column of a split's insights must have one value per sample")
    layout = frame_layout(samples, computed)
    probs = probs.astype(np.float32, copy=False)
    fields = [
        pa.field(name, _arrow_type(computed[column]) if is_computed else samples.schema.field(column).type)
        for name, is_computed, column in layout
    ]
    schema = pa.schema([*fields, pa.field("probs", pa.list_(pa.float32(), probs.shape[1]))])
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        with pq.ParquetWriter(tmp, schema, compression="zstd") as writer:
            for start in range(0, max(n, 1), batch_rows):
                stop = min(start + batch_rows, n)
                columns = [
                    pa.array(computed[column][start:stop], type=field.type)
                    if is_computed
                    else samples.column(column).slice(start, stop - start)
                    for (_, is_computed, column), field in zip(layout, fields)
                ]
                flat = pa.array(probs[start:stop].ravel(), type=pa.float32())
                columns.append(pa.FixedSizeListArray.from_arrays(flat, probs.shape[1]))
                writer.write_table(pa.Table.from_arrays(columns, schema=schema), row_group_size=batch_rows)
        return file_digest(tmp)


def _arrow_type(values: np.ndarray) -> pa.DataType:
    """The Arrow type of a computed column: text (object or unicode arrays) as strings."""
    if values.dtype == object or values.dtype.kind == "U":
        return pa.string()
    return pa.from_numpy_dtype(values.dtype)
