"""Files dq writes for users: atomic replacement, and one serialisation of tables (CSV, Parquet,
JSON Lines) shared by files on disk and the console's download buttons.

A file is written to a hidden temporary file beside its target and moved into place with
``os.replace``, so a reader sees the old file or the new one, never half of one, and a failure
(or Ctrl-C) leaves nothing behind.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import pandas as pd

from dq.errors import ValidationError

#: Table formats, by file extension (compared case-insensitively).
TABLE_FORMATS: tuple[str, ...] = (".parquet", ".csv", ".jsonl")


def check_out_path(
    out: str | os.PathLike[str], *, formats: tuple[str, ...] = TABLE_FORMATS, param: str = "--out"
) -> Path:
    """Refuse an output path with an unknown extension or a missing directory (before any work).

    >>> check_out_path("x.txt")  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    dq.errors.ValidationError: ...
    """
    path = Path(out).expanduser()
    if path.suffix.lower() not in formats:
        raise ValidationError(f"The '{param}' file must end in one of {', '.join(formats)}. Got {path.name!r} instead.")
    if not path.parent.is_dir():
        raise ValidationError(f"The '{param}' directory {path.parent} does not exist.")
    return path


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path``, on failure it is removed.

    >>> import pathlib, tempfile
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
    >>> with atomic_path(target) as tmp:
    ...     _ = tmp.write_text("done")
    >>> target.read_text()
    'done'
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_bytes_atomic(data: bytes, path: Path) -> Path:
    """Write ``data`` to ``path`` atomically and return ``path``."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return path


def table_format(fmt: str) -> str:
    """The canonical extension (``".csv"``) of a table format given as ``"csv"``, ``".CSV"``, ...

    >>> table_format("JSONL")
    '.jsonl'
    """
    suffix = fmt.lower() if fmt.startswith(".") else f".{fmt.lower()}"
    if suffix not in TABLE_FORMATS:
        names = ", ".join(f.lstrip(".") for f in TABLE_FORMATS)
        raise ValidationError(f"The 'fmt' parameter must be one of {names}. Got {fmt!r} instead.")
    return suffix


def write_table_to(
    frame: pd.DataFrame, fmt: str, target: str | os.PathLike[str] | IO[bytes], *, header: bool = True
) -> None:
    """Serialise ``frame`` as ``fmt`` into a path or a binary buffer: UTF-8, no index (``header``:
    CSV's first line; a file written in parts has it once).

    CSV quotes every non-numeric field, so texts holding commas, quotes or line breaks read back
    unchanged (quoting only where needed would leave a lone carriage return unquoted, and readers
    take it for the end of a row); JSON Lines keeps non-ASCII characters as they are and writes
    datetimes in ISO 8601.
    """
    suffix = table_format(fmt)
    if suffix == ".parquet":
        frame.to_parquet(target, index=False)
    elif suffix == ".csv":
        frame.to_csv(target, index=False, encoding="utf-8", quoting=csv.QUOTE_NONNUMERIC, header=header)
    else:
        frame.to_json(target, orient="records", lines=True, force_ascii=False, date_format="iso")


def table_bytes(frame: pd.DataFrame, fmt: str) -> bytes:
    """``frame`` serialised as ``fmt`` (for a download button), exactly as :func:`write_table` writes it.

    >>> table_bytes(pd.DataFrame({"n": [1], "text": ["a, b\\r"]}), "csv")
    b'"n","text"\\n1,"a, b\\r"\\n'
    """
    buffer = io.BytesIO()
    write_table_to(frame, fmt, buffer)
    return buffer.getvalue()


def write_table(frame: pd.DataFrame, out: str | os.PathLike[str], *, formats: tuple[str, ...] = TABLE_FORMATS) -> Path:
    """Write ``frame`` atomically in the format named by the extension of ``out``; return the path."""
    path = check_out_path(out, formats=formats)
    with atomic_path(path) as tmp:
        write_table_to(frame, path.suffix, tmp)
    return path
