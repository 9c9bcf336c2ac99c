"""A user's dataset file (CSV, TSV, JSON Lines, Parquet; read by ``dq.auto.fileformats``) as a clean table of samples.

This is the front door of ``dq auto``: every problem with the file becomes one ``InputFileError``
whose one-line message names the file, the column or line, what was expected and what was found,
because the CLI prints ``str(error)`` and nothing else.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from dq._util.validate import examples
from dq.auto.fileformats import check_path, parse, read_bytes
from dq.config import MIN_CLASSES
from dq.errors import InputFileError, ValidationError
from dq.splits import SPELLINGS, TRAINING, is_inference, normalize_split, ordered_splits

#: The columns of ``SampleTable.frame`` that come first, in order; metadata columns follow.
SAMPLE_COLUMNS: tuple[str, ...] = ("id", "text", "label", "split")
#: Keys of ``SampleTable.skipped``.
EMPTY_TEXT = "empty text"
MISSING_LABEL = "missing label"

# A file column whose name is taken by a sample column keeps its values under this prefix.
_RENAMED_PREFIX = "meta_"
# An "unknown column" message lists at most this many of the file's columns.
_MAX_COLUMNS_LISTED = 50


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
    split_values : dict of str to str
        Canonical split name to the file's own spelling of it (the most frequent one, when several
        spellings name one split), so a fixed dataset can give the file's values back; empty
        without a split column.
    """

    frame: pd.DataFrame
    skipped: dict[str, int]
    source_sha256: str
    split_values: dict[str, str] = field(default_factory=dict)


def load_samples(
    path: str | os.PathLike[str],
    *,
    text: str,
    label: str,
    id: str | None = None,  # noqa: A002 - the CLI's vocabulary (--id-col)
    split: str | None = None,
) -> SampleTable:
    """Read a data file and return its samples, refusing a file ``dq auto`` cannot train on.

    Rows whose text is missing or only whitespace are skipped; so are rows of a labeled split
    whose label is missing or only whitespace. Rows of the ``inference`` split need no label
    (a missing one becomes None). Texts and labels are kept exactly as written; labels are
    strings (a Parquet integer 3 becomes ``"3"``).

    Parameters
    ----------
    path : str or os.PathLike
        The data file (see :func:`dq.auto.fileformats.read_table`).
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
        The file cannot be read (see :func:`dq.auto.fileformats.read_table`), a column is missing, ids are missing or
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
    file = check_path(path)
    raw = read_bytes(file)
    frame = parse(raw, file)
    _check_columns(frame, roles, file)
    samples, skipped = _compute_samples(frame, roles, file)
    digest = hashlib.sha256(raw).hexdigest()
    spellings = _split_spellings(frame[roles["split"]]) if "split" in roles else {}
    return SampleTable(frame=samples, skipped=skipped, source_sha256=digest, split_values=spellings)


# ---------------------------------------------------------------------------- checking the roles


def _check_roles(**columns: str | None) -> dict[str, str]:
    roles: dict[str, str] = {}
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
        raise InputFileError(f"{role} column {column!r} not found in {file}; columns are: {listed}{more}{hint}")


# ---------------------------------------------------------------------------- building the samples


def _compute_samples(frame: pd.DataFrame, roles: dict[str, str], file: Path) -> tuple[pd.DataFrame, dict[str, int]]:
    ids = _as_text(frame[roles["id"]]) if "id" in roles else pd.Series(np.arange(len(frame), dtype=np.int64))
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
    _refuse_multi_label(rows[roles["label"]], roles["label"], file)
    labels = _as_text(rows[roles["label"]])
    has_label = ~_blank(labels)
    keep = has_label | np.array([is_inference(s) for s in splits], dtype=bool)
    skipped = {EMPTY_TEXT: int((~has_text).sum()), MISSING_LABEL: int((~keep).sum())}
    skipped = {reason: count for reason, count in skipped.items() if count}
    if not keep.any():
        counts = ", ".join(f"{count} with {reason}" for reason, count in skipped.items())
        raise InputFileError(f"{file} has no usable rows: all {len(frame)} rows were skipped ({counts})")
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


def _refuse_multi_label(values: pd.Series, column: str, file: Path) -> None:
    """A label column of lists (or sets, arrays, dicts) is multi-label data: refused, never stringified."""
    nested = values.map(lambda v: isinstance(v, (list, tuple, set, dict, np.ndarray)))
    if nested.any():
        first = values[nested].iloc[0]
        raise InputFileError(
            f"label column {column!r} in {file} holds lists (e.g. {list(first)[:3]!r}): multi-label data is not "
            "supported; dq classifies each text into one class"
        )


def _string_column(values: pd.Series, column: str, file: Path) -> pd.Series:
    if isinstance(values.dtype, pd.CategoricalDtype):
        values = values.astype(object)
    found = pd.api.types.infer_dtype(values, skipna=True)
    if found not in ("string", "empty"):
        raise InputFileError(f"text column {column!r} in {file} holds {found} values; expected strings")
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


def _split_spellings(values: pd.Series) -> dict[str, str]:
    """Canonical split name -> the most frequent spelling of it in ``values`` (``{"training": "train"}``)."""
    counts = _as_text(values).dropna().value_counts(sort=False)
    best: dict[str, tuple[int, str]] = {}
    for raw, count in counts.items():
        name = normalize_split(str(raw))
        if name is not None and (name not in best or count > best[name][0]):
            best[name] = (int(count), str(raw))
    return {name: raw for name, (_, raw) in best.items()}


def _canonical_splits(rows: pd.DataFrame, column: str | None, file: Path) -> np.ndarray:
    if column is None:
        return np.full(len(rows), TRAINING, dtype=object)
    values = _as_text(rows[column]).fillna("")
    canonical = {value: normalize_split(value) for value in pd.unique(values)}
    unknown = [value for value, name in canonical.items() if name is None]
    if unknown:
        raise InputFileError(
            f"split column {column!r} in {file} has {len(unknown)} unknown value(s): "
            f"{examples(unknown)}; accepted (any case): {', '.join(SPELLINGS)}, inference=NAME"
        )
    return values.map(canonical).to_numpy(dtype=object)


def _check_ids(ids: pd.Series, splits: np.ndarray, column: str, file: Path) -> None:
    missing = int(_blank(ids).sum())
    if missing:
        raise InputFileError(f"id column {column!r} in {file} is empty on {missing} row(s); every row needs an id")
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
        found = ", ".join(f"{name} ({sizes[name]})" for name in ordered_splits(sizes.index))
        raise InputFileError(
            f"{file} has no training rows (split column {roles.get('split')!r} holds only "
            f"{found}); dq auto needs labeled training rows"
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
