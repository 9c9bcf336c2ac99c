"""Writing a split's per-sample insights to a file (Parquet, CSV or JSONL), atomically: from a frame,
or batch by batch from the cached insights file."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from contextlib import ExitStack
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from dq._util.fileio import TABLE_FORMATS, atomic_path, check_out_path, write_table, write_table_to
from dq.insights.frame_file import BATCH_ROWS

FORMATS = TABLE_FORMATS

__all__ = ["FORMATS", "check_out_path", "export_frame_file", "write_frame"]


def export_frame_file(
    source: Path, out: str | os.PathLike[str], *, extra: Mapping[str, np.ndarray] | None = None
) -> tuple[Path, int, int]:
    """Write a split's per-sample insights file (``dq.insights.insights_file``) to ``out`` as
    :func:`write_frame` writes its frame, batch by batch: the split is never one frame. ``extra``:
    columns added at the end (the map's ``x`` and ``y``), one value per row. Returns the path, the
    number of rows and how many are likely mislabeled.
    """
    path = check_out_path(out)
    suffix = path.suffix.lower()
    n_rows = n_flagged = 0
    with pq.ParquetFile(source) as reader, atomic_path(path) as tmp, tmp.open("wb") as fh, ExitStack() as stack:
        names = [name for name in reader.schema_arrow.names if name != "probs"]
        names.insert(names.index("pred") + 1, "probs")  # where a frame has it
        # A whole frame holds an integer column with a missing value as floats; so does every batch.
        as_float = [name for name in _integers_with_nulls(reader) if name in names]
        writer: pq.ParquetWriter | None = None
        for batch in reader.iter_batches(batch_size=BATCH_ROWS, columns=names):
            table = pa.Table.from_batches([batch]).select(names)
            table = table.set_column(names.index("probs"), "probs", table.column("probs").cast(pa.list_(pa.float32())))
            for name, values in (extra or {}).items():  # the map's x and y replace columns of those names
                column = pa.array(values[n_rows : n_rows + table.num_rows])
                at = table.schema.get_field_index(name)
                table = table.append_column(name, column) if at < 0 else table.set_column(at, name, column)
            n_flagged += int(pc.sum(table.column("is_mislabeled")).as_py() or 0)
            if suffix == ".parquet":
                if writer is None:
                    writer = stack.enter_context(pq.ParquetWriter(fh, table.schema))
                writer.write_table(table)
            else:
                frame = table.to_pandas().astype(dict.fromkeys(as_float, "float64"))
                write_table_to(_with_probs_as_text(frame, suffix), suffix, fh, header=n_rows == 0)
            n_rows += table.num_rows
    return path, n_rows, n_flagged


def _integers_with_nulls(reader: pq.ParquetFile) -> list[str]:
    """The integer columns of a Parquet file with a missing value in some row group (or no count)."""
    meta = reader.metadata
    leaves = {reader.schema.column(j).path: j for j in range(len(reader.schema))}
    found = []
    for field in reader.schema_arrow:
        if pa.types.is_integer(field.type) and field.name in leaves:
            stats = [meta.row_group(g).column(leaves[field.name]).statistics for g in range(meta.num_row_groups)]
            if any(st is None or not st.has_null_count or st.null_count for st in stats):
                found.append(field.name)
    return found


def _with_probs_as_text(frame: pd.DataFrame, suffix: str) -> pd.DataFrame:
    """The ``probs`` cells as CSV and JSON Lines hold them: lists rounded to 6 decimals (JSON text in CSV)."""
    rounded = [[round(float(x), 6) for x in p] for p in frame["probs"]]
    return frame.assign(probs=[json.dumps(p) for p in rounded] if suffix == ".csv" else rounded)


def write_frame(frame: pd.DataFrame, out: str | os.PathLike[str]) -> Path:
    """Write ``frame`` by the extension of ``out``; list columns (``probs``) stay lists in
    Parquet and become JSON arrays in CSV. Nothing is left behind if writing fails.

    >>> write_frame(pd.DataFrame({"a": [1]}), "x.txt")  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    dq.errors.ValidationError: ...
    """
    suffix = check_out_path(out).suffix.lower()
    if suffix == ".parquet":
        out_frame = frame.assign(probs=[np.asarray(p, dtype=np.float32) for p in frame["probs"]])
    else:
        out_frame = _with_probs_as_text(frame, suffix)
    return write_table(out_frame, out)
