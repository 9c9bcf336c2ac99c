"""Writing a per-sample insights frame to a file (Parquet, CSV or JSONL), atomically."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from dq.errors import ValidationError

FORMATS = (".parquet", ".csv", ".jsonl")


def check_out_path(out: str | os.PathLike[str]) -> Path:
    """Refuse an output path with an unknown extension or a missing directory (before any work)."""
    path = Path(out).expanduser()
    if path.suffix.lower() not in FORMATS:
        raise ValidationError(
            f"The '--out' file must end in one of {', '.join(FORMATS)}. Got {path.name!r} instead."
        )
    if not path.parent.exists():
        raise ValidationError(f"The '--out' directory {path.parent} does not exist.")
    return path


def write_frame(frame: pd.DataFrame, out: str | os.PathLike[str]) -> Path:
    """Write ``frame`` by the extension of ``out``; list columns (``probs``) stay lists in
    Parquet and become JSON arrays in CSV. Nothing is left behind if writing fails.

    >>> write_frame(pd.DataFrame({"a": [1]}), "x.txt")  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    dq.errors.ValidationError: ...
    """
    path = check_out_path(out)
    suffix = path.suffix.lower()
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        if suffix == ".parquet":
            out_frame = frame.copy()
            out_frame["probs"] = [np.asarray(p, dtype=np.float32) for p in frame["probs"]]
            out_frame.to_parquet(tmp, index=False)
        else:
            out_frame = frame.copy()
            out_frame["probs"] = [json.dumps([round(float(x), 6) for x in p]) for p in frame["probs"]]
            if suffix == ".csv":
                out_frame.to_csv(tmp, index=False)
            else:
                out_frame["probs"] = [json.loads(p) for p in out_frame["probs"]]
                out_frame.to_json(tmp, orient="records", lines=True, force_ascii=False)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
