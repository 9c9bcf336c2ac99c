"""Read a dataset file (CSV, TSV, JSON Lines, Parquet) into a DataFrame, refusing what is malformed.

Every problem with the file becomes one ``InputFileError`` whose one-line message names the file,
the line or column, what was expected and what was found.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import os
from collections import Counter
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from dq._util.text import one_line
from dq._util.validate import examples
from dq.errors import InputFileError

#: Field delimiter of each delimited-text extension.
DELIMITERS: dict[str, str] = {".csv": ",", ".tsv": "\t"}
#: Extensions read as one JSON object per line.
JSON_LINES_SUFFIXES: tuple[str, ...] = (".jsonl", ".ndjson")
#: Extensions read as Apache Parquet.
PARQUET_SUFFIXES: tuple[str, ...] = (".parquet",)
#: Every extension :func:`read_table` reads (compared case-insensitively).
SUPPORTED_SUFFIXES: tuple[str, ...] = (*DELIMITERS, *JSON_LINES_SUFFIXES, *PARQUET_SUFFIXES)

# Validate UTF-8 a MiB at a time so that a large file is never held twice in memory as text.
_UTF8_CHECK_CHUNK = 1 << 20
# pandas' C parser prefixes every message with this; it means nothing to a user.
_PANDAS_CSV_PREFIX = "Error tokenizing data. C error: "
# Parquet integers and booleans become nullable pandas types, so a null does not turn 3 into "3.0".
_NULLABLE_TYPES = {
    pa.int8(): pd.Int8Dtype(),
    pa.int16(): pd.Int16Dtype(),
    pa.int32(): pd.Int32Dtype(),
    pa.int64(): pd.Int64Dtype(),
    pa.uint8(): pd.UInt8Dtype(),
    pa.uint16(): pd.UInt16Dtype(),
    pa.uint32(): pd.UInt32Dtype(),
    pa.uint64(): pd.UInt64Dtype(),
    pa.bool_(): pd.BooleanDtype(),
}
_JSON_TYPE_NAMES = {list: "array", str: "string", int: "number", float: "number", bool: "boolean"}


def read_table(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a CSV, TSV, JSON Lines or Parquet file into a DataFrame, chosen by its extension.

    Values of text formats are read as strings, exactly as written ("01" stays "01", "NA" stays
    "NA"); only an empty cell (or a JSON ``null`` or absent key) is missing. A UTF-8 byte order
    mark is accepted. CSV and TSV fields may be quoted with ``"``.

    Parameters
    ----------
    path : str or os.PathLike
        The file: ``.csv``, ``.tsv``, ``.jsonl``, ``.ndjson`` or ``.parquet``.

    Returns
    -------
    pandas.DataFrame
        One row per record of the file, the file's columns in the file's order.

    Raises
    ------
    InputFileError
        The file is missing, a directory, empty, not UTF-8, malformed or of an unknown extension.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> file = pathlib.Path(tempfile.mkdtemp()) / "data.csv"
    >>> _ = file.write_text("text,label\\nhello,01\\n", encoding="utf-8")
    >>> read_table(file)["label"].tolist()
    ['01']
    """
    file = check_path(path)
    return parse(read_bytes(file), file)


def check_path(path: str | os.PathLike[str]) -> Path:
    file = Path(path)
    if not file.exists():
        raise InputFileError(f"{file} does not exist")
    if file.is_dir():
        raise InputFileError(f"{file} is a directory; expected a data file")
    suffix = file.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        found = f"extension {file.suffix!r}" if suffix else "no extension"
        raise InputFileError(f"{file} has {found}; supported extensions are: {', '.join(SUPPORTED_SUFFIXES)}")
    return file


def read_bytes(file: Path) -> bytes:
    try:
        raw = file.read_bytes()
    except OSError as error:
        raise InputFileError(f"{file} cannot be read: {error.strerror}") from error
    if not raw:
        raise InputFileError(f"{file} is empty (0 bytes); expected a header and rows")
    return raw


def parse(raw: bytes, file: Path) -> pd.DataFrame:
    suffix = file.suffix.lower()
    if suffix in PARQUET_SUFFIXES:
        return _read_parquet(raw, file)
    _check_utf8(raw, file)
    if suffix in JSON_LINES_SUFFIXES:
        return _read_json_lines(raw, file)
    return _read_delimited(raw, file, DELIMITERS[suffix])


def _check_utf8(raw: bytes, file: Path) -> None:
    view = memoryview(raw)
    position = len(codecs.BOM_UTF8) if raw.startswith(codecs.BOM_UTF8) else 0
    while position < len(raw):
        end = position + _UTF8_CHECK_CHUNK
        try:
            # Not final mid-file: a character cut by the chunk edge is left for the next chunk.
            _, consumed = codecs.utf_8_decode(view[position:end], "strict", end >= len(raw))
        except UnicodeDecodeError as error:
            offset = position + error.start
            raise InputFileError(
                f"{file} is not valid UTF-8 text: byte 0x{raw[offset]:02x} at offset {offset}; save it as UTF-8"
            ) from error
        position += consumed


def _read_delimited(raw: bytes, file: Path, sep: str) -> pd.DataFrame:
    kind = file.suffix.lstrip(".").upper()
    options = dict(sep=sep, dtype=str, keep_default_na=False, na_values=[""], encoding="utf-8-sig")
    try:
        frame = pd.read_csv(io.BytesIO(raw), **options)
        # pandas renames a repeated header ("a", "a.1"); read the header as written to refuse it.
        header = pd.read_csv(io.BytesIO(raw), header=None, nrows=1, **options)
    except pd.errors.EmptyDataError as error:
        raise InputFileError(f"{file} is empty; expected a header and rows") from error
    except pd.errors.ParserError as error:
        problem = _locate_csv_problem(raw, sep, str(error))
        raise InputFileError(f"{file} is not valid {kind}: {problem}") from error
    _check_unique_columns(header.iloc[0].dropna().tolist(), file)
    if frame.empty:
        raise InputFileError(f"{file} has a header but no rows; expected at least one row")
    return frame


def _locate_csv_problem(raw: bytes, sep: str, message: str) -> str:
    # pandas counts records rather than physical lines, so find the line again with csv.
    reader = csv.reader(io.TextIOWrapper(io.BytesIO(raw), encoding="utf-8-sig", newline=""), delimiter=sep)
    width, start, last_start = None, 1, 1
    try:
        for record in reader:
            if width is None:
                width = len(record)
            elif len(record) > width:
                return f"line {start} has {len(record)} fields, the header has {width}"
            last_start, start = start, reader.line_num + 1
    except csv.Error:
        pass
    if "EOF inside string" in message:
        return f"the quoted field starting on line {last_start} is never closed"
    return one_line(message.removeprefix(_PANDAS_CSV_PREFIX))


def _read_json_lines(raw: bytes, file: Path) -> pd.DataFrame:
    records = []
    for number, line in enumerate(raw.removeprefix(codecs.BOM_UTF8).split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as error:
            raise InputFileError(
                f"{file} line {number} is not valid JSON: {error.msg} at column {error.colno}"
            ) from error
        if not isinstance(value, dict):
            found = _JSON_TYPE_NAMES.get(type(value), "null")
            raise InputFileError(
                f'{file} line {number} holds a JSON {found}; expected an object like {{"text": "...", "label": "..."}}'
            )
        records.append({key: _json_as_text(item) for key, item in value.items()})
    if not records:
        raise InputFileError(f"{file} has no rows; expected one JSON object per line")
    return pd.DataFrame(records)


def _json_as_text(value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    # JSON spelling, not Python's: true stays "true", {"a": 1} stays '{"a": 1}'.
    return json.dumps(value, ensure_ascii=False)


def _read_parquet(raw: bytes, file: Path) -> pd.DataFrame:
    try:
        table = pq.read_table(pa.BufferReader(raw))
    except (pa.ArrowException, OSError) as error:
        raise InputFileError(f"{file} is not a valid Parquet file: {one_line(error)}") from error
    _check_unique_columns(table.column_names, file)
    if table.num_rows == 0:
        raise InputFileError(f"{file} has no rows; expected at least one row")
    return table.to_pandas(types_mapper=_NULLABLE_TYPES.get).reset_index(drop=True)


def _check_unique_columns(names: list[object], file: Path) -> None:
    repeated = sorted(str(name) for name, count in Counter(names).items() if count > 1)
    if repeated:
        raise InputFileError(f"{file} has repeated column names: {examples(repeated)}; each column needs its own name")
