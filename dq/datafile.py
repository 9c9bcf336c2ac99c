"""Read a user's dataset file (CSV, TSV, JSON Lines, Parquet) into a clean table of samples.

This is the front door of ``dq auto``: every problem with the file becomes one ``InputFileError``
whose one-line message names the file, the column or line, what was expected and what was found,
because the CLI prints ``str(error)`` and nothing else.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from dq.errors import InputFileError, ValidationError
from dq.splits import INFERENCE, SPELLINGS, SPLITS, TRAINING, normalize_split
from dq.validate import examples

#: Field delimiter of each delimited-text extension.
DELIMITERS: dict[str, str] = {".csv": ",", ".tsv": "\t"}
#: Extensions read as one JSON object per line.
JSON_LINES_SUFFIXES: tuple[str, ...] = (".jsonl", ".ndjson")
#: Extensions read as Apache Parquet.
PARQUET_SUFFIXES: tuple[str, ...] = (".parquet",)
#: Every extension :func:`read_table` reads (compared case-insensitively).
SUPPORTED_SUFFIXES: tuple[str, ...] = (*DELIMITERS, *JSON_LINES_SUFFIXES, *PARQUET_SUFFIXES)

#: The columns of ``SampleTable.frame`` that come first, in order; metadata columns follow.
SAMPLE_COLUMNS: tuple[str, ...] = ("id", "text", "label", "split")
#: Keys of ``SampleTable.skipped``.
EMPTY_TEXT = "empty text"
MISSING_LABEL = "missing label"
#: The fewest distinct labels the training split must hold.
MIN_CLASSES = 2

# Validate UTF-8 a MiB at a time so that a large file is never held twice in memory as text.
_UTF8_CHECK_CHUNK = 1 << 20
# A file column whose name is taken by a sample column keeps its values under this prefix.
_RENAMED_PREFIX = "meta_"
# An "unknown column" message lists at most this many of the file's columns.
_MAX_COLUMNS_LISTED = 50
# pandas' C parser prefixes every message with this; it means nothing to a user.
_PANDAS_CSV_PREFIX = "Error tokenizing data. C error: "
# Parquet integers and booleans become nullable pandas types, so a null does not turn 3 into "3.0".
_NULLABLE_TYPES = {
    pa.int8(): pd.Int8Dtype(), pa.int16(): pd.Int16Dtype(), pa.int32(): pd.Int32Dtype(),
    pa.int64(): pd.Int64Dtype(), pa.uint8(): pd.UInt8Dtype(), pa.uint16(): pd.UInt16Dtype(),
    pa.uint32(): pd.UInt32Dtype(), pa.uint64(): pd.UInt64Dtype(), pa.bool_(): pd.BooleanDtype(),
}
_JSON_TYPE_NAMES = {list: "array", str: "string", int: "number", float: "number", bool: "boolean"}


@dataclass(frozen=True, eq=False)
class SampleTable:
    """The samples of a data file, cleaned for ``dq auto`` (compare the fields, not the tables).

    Attributes
    ----------
    frame : pandas.DataFrame
        Columns ``id, text, label, split``, then every other column of the file with its values
        unchanged (renamed ``meta_<name>`` only where the name is one of the four).
    skipped : dict of str to int
        Reason (``"empty text"``, ``"missing label"``) to the number of rows skipped for it;
        reasons that skipped nothing are absent.
    source_sha256 : str
        SHA-256 hex digest of the file's raw bytes.
    """

    frame: pd.DataFrame
    skipped: dict[str, int]
    source_sha256: str


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
    file = _check_path(path)
    return _parse(_read_bytes(file), file)


def load_samples(
    path: str | os.PathLike[str],
    *,
    text: str,
    label: str,
    id: str | None = None,  # noqa: A002 - the CLI's vocabulary (--id-col)
    split: str | None = None,
) -> SampleTable:
    """Read a data file and return its samples, refusing a file ``dq auto`` cannot train on.

    Rows whose text is missing or only whitespace are skipped; so are rows of a labelled split
    whose label is missing or only whitespace. Rows of the ``inference`` split need no label
    (a missing one becomes None). Texts and labels are kept exactly as written; labels are
    strings (a Parquet integer 3 becomes ``"3"``).

    Parameters
    ----------
    path : str or os.PathLike
        The data file (see :func:`read_table`).
    text, label : str
        Names of the columns holding the text and the label.
    id : str, optional
        Name of a column of unique sample ids, kept as strings. Without it the id of a row is its
        0-based position among the file's rows (int64), stable across reruns.
    split : str, optional
        Name of a column naming each row's split (``train``, ``dev``, ``test``, ...). Without it
        every row is in the training split.

    Returns
    -------
    SampleTable
        The samples, the skip counts and the SHA-256 of the file.

    Raises
    ------
    ValidationError
        A column name is not a non-empty string, or two roles name the same column.
    InputFileError
        The file cannot be read (see :func:`read_table`), a column is missing, ids are missing or
        repeated, a split name is unknown, no row is usable, no row is in the training split, or
        the training split holds fewer than two classes.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> file = pathlib.Path(tempfile.mkdtemp()) / "data.csv"
    >>> _ = file.write_text("text,label\\ngood,pos\\n  ,neg\\nbad,neg\\n", encoding="utf-8")
    >>> table = load_samples(file, text="text", label="label")
    >>> table.frame[["id", "text", "label"]].values.tolist()
    [[0, 'good', 'pos'], [2, 'bad', 'neg']]
    >>> table.skipped
    {'empty text': 1}
    """
    roles = _check_roles(text=text, label=label, id=id, split=split)
    file = _check_path(path)
    raw = _read_bytes(file)
    frame = _parse(raw, file)
    _check_columns(frame, roles, file)
    samples, skipped = _compute_samples(frame, roles, file)
    digest = hashlib.sha256(raw).hexdigest()
    return SampleTable(frame=samples, skipped=skipped, source_sha256=digest)


# ---------------------------------------------------------------------------- reading the file


def _check_path(path: str | os.PathLike[str]) -> Path:
    file = Path(path)
    if not file.exists():
        raise InputFileError(f"{file} does not exist")
    if file.is_dir():
        raise InputFileError(f"{file} is a directory; expected a data file")
    suffix = file.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        found = f"extension {file.suffix!r}" if suffix else "no extension"
        raise InputFileError(
            f"{file} has {found}; supported extensions are: {', '.join(SUPPORTED_SUFFIXES)}"
        )
    return file


def _read_bytes(file: Path) -> bytes:
    try:
        raw = file.read_bytes()
    except OSError as error:
        raise InputFileError(f"{file} cannot be read: {error.strerror}") from error
    if not raw:
        raise InputFileError(f"{file} is empty (0 bytes); expected a header and rows")
    return raw


def _parse(raw: bytes, file: Path) -> pd.DataFrame:
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
                f"{file} is not valid UTF-8 text: byte 0x{raw[offset]:02x} at offset {offset}; "
                "save it as UTF-8"
            ) from error
        position += consumed


def _read_delimited(raw: bytes, file: Path, sep: str) -> pd.DataFrame:
    kind = file.suffix.lstrip(".").upper()
    options = dict(
        sep=sep, dtype=str, keep_default_na=False, na_values=[""], encoding="utf-8-sig"
    )
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
    reader = csv.reader(
        io.TextIOWrapper(io.BytesIO(raw), encoding="utf-8-sig", newline=""), delimiter=sep
    )
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
    return _one_line(message.removeprefix(_PANDAS_CSV_PREFIX))


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
                f"{file} line {number} holds a JSON {found}; expected an object like "
                '{"text": "...", "label": "..."}'
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
        raise InputFileError(f"{file} is not a valid Parquet file: {_one_line(error)}") from error
    _check_unique_columns(table.column_names, file)
    if table.num_rows == 0:
        raise InputFileError(f"{file} has no rows; expected at least one row")
    return table.to_pandas(types_mapper=_NULLABLE_TYPES.get).reset_index(drop=True)


def _check_unique_columns(names: list[object], file: Path) -> None:
    repeated = sorted(str(name) for name, count in Counter(names).items() if count > 1)
    if repeated:
        raise InputFileError(
            f"{file} has repeated column names: {examples(repeated)}; "
            "each column needs its own name"
        )


# ---------------------------------------------------------------------------- checking the roles


def _check_roles(**columns: str | None) -> dict[str, str]:
    roles = {}
    for role, column in columns.items():
        if column is None and role in ("id", "split"):
            continue
        if not isinstance(column, str) or not column:
            raise ValidationError(
                f"The '{role}' parameter of load_samples must be a column name (a non-empty "
                f"string). Got {column!r} instead."
            )
        for other, taken in roles.items():
            if taken == column:
                raise ValidationError(
                    f"The '{other}' and '{role}' parameters of load_samples must name different "
                    f"columns. Got {column!r} for both."
                )
        roles[role] = column
    return roles


def _check_columns(frame: pd.DataFrame, roles: dict[str, str], file: Path) -> None:
    names = [str(name) for name in frame.columns]
    for role, column in roles.items():
        if column in frame.columns:
            continue
        close = [name for name in names if name.strip().lower() == column.strip().lower()]
        hint = f"; did you mean {close[0]!r}?" if close else ""
        listed = ", ".join(repr(name) for name in names[:_MAX_COLUMNS_LISTED])
        more = ", ..." if len(names) > _MAX_COLUMNS_LISTED else ""
        raise InputFileError(
            f"{role} column {column!r} not found in {file}; columns are: {listed}{more}{hint}"
        )


# ---------------------------------------------------------------------------- building the samples


def _compute_samples(
    frame: pd.DataFrame, roles: dict[str, str], file: Path
) -> tuple[pd.DataFrame, dict[str, int]]:
    ids = (
        _as_text(frame[roles["id"]]) if "id" in roles
        else pd.Series(np.arange(len(frame), dtype=np.int64))
    )
    texts = _string_column(frame[roles["text"]], roles["text"], file)
    has_text = ~_blank(texts)
    # Rows without text are dropped before anything else is checked: blank rows at the end of
    # a spreadsheet export should not fail the split or id checks.
    rows = frame.loc[has_text].reset_index(drop=True)
    texts = texts.loc[has_text].reset_index(drop=True)
    ids = ids.loc[has_text].reset_index(drop=True)
    splits = _canonical_splits(rows, roles.get("split"), file)
    if "id" in roles:
        _check_ids(ids, splits, roles["id"], file)
    labels = _as_text(rows[roles["label"]])
    has_label = ~_blank(labels)
    keep = has_label | (splits == INFERENCE)
    skipped = {EMPTY_TEXT: int((~has_text).sum()), MISSING_LABEL: int((~keep).sum())}
    skipped = {reason: count for reason, count in skipped.items() if count}
    if not keep.any():
        counts = ", ".join(f"{count} with {reason}" for reason, count in skipped.items())
        raise InputFileError(
            f"{file} has no usable rows: all {len(frame)} rows were skipped ({counts})"
        )
    columns = {
        "id": ids[keep],
        "text": texts[keep],
        "label": labels.where(has_label, None)[keep],
        "split": pd.Series(splits)[keep],
    }
    taken = set(SAMPLE_COLUMNS)
    for name in frame.columns:
        if name not in roles.values():
            columns[_free_name(name, taken)] = rows[name][keep]
    samples = pd.DataFrame(columns).reset_index(drop=True)
    _check_training(samples, roles, file)
    return samples, skipped


def _string_column(values: pd.Series, column: str, file: Path) -> pd.Series:
    if isinstance(values.dtype, pd.CategoricalDtype):
        values = values.astype(object)
    found = pd.api.types.infer_dtype(values, skipna=True)
    if found not in ("string", "empty"):
        raise InputFileError(
            f"text column {column!r} in {file} holds {found} values; expected strings"
        )
    return values


def _as_text(values: pd.Series) -> pd.Series:
    """Non-missing values as ``str``, missing ones as None, in an object column."""
    out = values.astype(object).to_numpy(copy=True)
    missing = values.isna().to_numpy()
    out[missing] = None
    out[~missing] = [item if isinstance(item, str) else str(item) for item in out[~missing]]
    return pd.Series(out, dtype=object)


def _blank(values: pd.Series) -> pd.Series:
    return values.isna() | values.str.strip().eq("")


def _canonical_splits(rows: pd.DataFrame, column: str | None, file: Path) -> np.ndarray:
    if column is None:
        return np.full(len(rows), TRAINING, dtype=object)
    values = _as_text(rows[column]).fillna("")
    canonical = {value: normalize_split(value) for value in pd.unique(values)}
    unknown = [value for value, name in canonical.items() if name is None]
    if unknown:
        raise InputFileError(
            f"split column {column!r} in {file} has {len(unknown)} unknown value(s): "
            f"{examples(unknown)}; accepted (any case): {', '.join(SPELLINGS)}"
        )
    return values.map(canonical).to_numpy(dtype=object)


def _check_ids(ids: pd.Series, splits: np.ndarray, column: str, file: Path) -> None:
    missing = int(_blank(ids).sum())
    if missing:
        raise InputFileError(
            f"id column {column!r} in {file} is empty on {missing} row(s); every row needs an id"
        )
    # As in a run, an id names one sample of a split: the same id may appear in two splits.
    for split in pd.unique(splits):
        counts = ids[splits == split].value_counts(sort=False)
        repeated = counts[counts > 1]
        if len(repeated):
            where = f" within split {split!r}" if len(pd.unique(splits)) > 1 else ""
            raise InputFileError(
                f"id column {column!r} in {file} has {len(repeated)} duplicated id(s){where} "
                f"({int(repeated.sum())} rows): {examples(repeated.index.tolist())}; "
                "ids must be unique within a split"
            )


def _check_training(samples: pd.DataFrame, roles: dict[str, str], file: Path) -> None:
    training = samples["split"] == TRAINING
    if not training.any():
        sizes = samples["split"].value_counts()
        found = ", ".join(f"{name} ({sizes[name]})" for name in SPLITS if name in sizes)
        raise InputFileError(
            f"{file} has no training rows (split column {roles.get('split')!r} holds only "
            f"{found}); dq auto needs labelled training rows"
        )
    classes = pd.unique(samples.loc[training, "label"])
    if len(classes) < MIN_CLASSES:
        raise InputFileError(
            f"label column {roles['label']!r} in {file}: training needs at least {MIN_CLASSES} "
            f"classes, found only {classes[0]!r}"
        )


def _free_name(name: str, taken: set[str]) -> str:
    while name in taken:
        name = f"{_RENAMED_PREFIX}{name}"
    taken.add(name)
    return name


def _one_line(message: object) -> str:
    return " ".join(str(message).split())
