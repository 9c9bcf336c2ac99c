"""Writing a per-sample insights frame to a file (Parquet, CSV or JSONL), atomically."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

from dq._util.fileio import TABLE_FORMATS, check_out_path, write_table

FORMATS = TABLE_FORMATS

__all__ = ["FORMATS", "check_out_path", "write_frame"]


def write_frame(frame: pd.DataFrame, out: str | os.PathLike[str]) -> Path:
    """Write ``frame`` by the extension of ``out``; list columns (``probs``) stay lists in
    Parquet and become JSON arrays in CSV. Nothing is left behind if writing fails.

    >>> write_frame(pd.DataFrame({"a": [1]}), "x.txt")  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    dq.errors.ValidationError: ...
    """
    suffix = check_out_path(out).suffix.lower()
    out_frame = frame.copy()
    if suffix == ".parquet":
        out_frame["probs"] = [np.asarray(p, dtype=np.float32) for p in frame["probs"]]
    else:
        rounded = [[round(float(x), 6) for x in p] for p in frame["probs"]]
        out_frame["probs"] = [json.dumps(p) for p in rounded] if suffix == ".csv" else rounded
    return write_table(out_frame, out)
