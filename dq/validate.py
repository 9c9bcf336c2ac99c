"""Argument checks shared by the public functions of dq.

Each check raises :class:`~dq.errors.ValidationError` with a message that names the parameter,
what was expected and what was received, and returns the value converted to the type dq stores.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from dq.config import CONFIG
from dq.errors import ValidationError


def examples(values: Iterable[Any], *, limit: int = CONFIG.error_examples) -> str:
    """Format the first few offending values for an error message.

    >>> examples([1, 2, 3, 4, 5, 6, 7], limit=3)
    '1, 2, 3, ...'
    """
    values = list(values)
    shown = ", ".join(repr(v) if isinstance(v, str) else str(v) for v in values[:limit])
    return shown + (", ..." if len(values) > limit else "")


def _to_list(param: str, value: Any) -> list[Any]:
    if value is None or isinstance(value, (str, bytes, dict)):
        raise ValidationError(
            f"The '{param}' parameter must be a sequence (list, array, Series). "
            f"Got {type(value).__name__} instead."
        )
    if hasattr(value, "tolist"):
        return list(value.tolist())
    try:
        return list(value)
    except TypeError:
        raise ValidationError(
            f"The '{param}' parameter must be a sequence (list, array, Series). "
            f"Got {type(value).__name__} instead."
        ) from None


def as_texts(texts: Any, *, param: str = "texts") -> list[str]:
    """Return ``texts`` as a list of str; refuse None and non-strings.

    >>> as_texts(["a", "b"])
    ['a', 'b']
    """
    values = _to_list(param, texts)
    bad = [i for i, t in enumerate(values) if not isinstance(t, str)]
    if bad:
        raise ValidationError(
            f"The '{param}' parameter must hold only strings. Got "
            f"{type(values[bad[0]]).__name__} at positions {examples(bad)} instead."
        )
    return values


def as_ids(ids: Any, *, param: str = "ids", id_type: str | None = None) -> tuple[np.ndarray, str]:
    """Return ``ids`` as a 1-D array of int64 or str, and which of the two it is.

    ``id_type`` ("int" or "str"), when given, is the type the run already uses.

    >>> as_ids([3, 1, 2])[1]
    'int'
    """
    values = _to_list(param, ids)
    if all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in values):
        kind, arr = "int", np.asarray(values, dtype=np.int64)
    elif all(isinstance(v, str) for v in values):
        kind, arr = "str", np.asarray(values, dtype=object)
    else:
        bad = [v for v in values if not isinstance(v, (str, int, np.integer)) or isinstance(v, bool)]
        raise ValidationError(
            f"The '{param}' parameter must hold only integers or only strings. "
            f"Got {examples(bad or values)} instead."
        )
    if values and id_type is not None and kind != id_type:
        raise ValidationError(
            f"The '{param}' parameter must hold {id_type} ids like the rest of this run. "
            f"Got {kind} ids instead."
        )
    return arr, kind


def duplicated(values: np.ndarray) -> list[Any]:
    """The values that occur more than once, each listed once, in first-seen order."""
    seen: set[Any] = set()
    dups: dict[Any, None] = {}
    for v in values.tolist():
        if v in seen:
            dups[v] = None
        seen.add(v)
    return list(dups)


def as_matrix(
    value: Any,
    *,
    param: str,
    n_rows: int | None = None,
    n_cols: int | None = None,
    rows_of: str = "id",
    cols_hint: str = "",
) -> np.ndarray:
    """Return ``value`` as a finite 2-D float array of shape ``(n_rows, n_cols)``.

    float32 stays float32, anything else becomes float64; ``n_rows`` or ``n_cols`` left as None
    accepts any count. ``rows_of`` and ``cols_hint`` complete the messages: "one row per <rows_of>",
    "<n_cols> columns<cols_hint>".

    >>> as_matrix([[0.5, 0.5]], param="probs", n_rows=1, n_cols=2).shape
    (1, 2)
    """
    try:
        arr = np.asarray(value)
        # float32 stays float32 (embeddings are large; a float64 round trip doubles memory and
        # time for nothing); anything else is read as float64.
        if arr.dtype != np.float32:
            arr = arr.astype(np.float64)
    except (TypeError, ValueError):
        raise ValidationError(
            f"The '{param}' parameter must be a 2-D array of numbers. "
            f"Got {type(value).__name__} that cannot be read as numbers instead."
        ) from None
    if arr.ndim != 2:
        raise ValidationError(
            f"The '{param}' parameter must be a 2-D array of shape ({n_rows if n_rows is not None else 'n_rows'}, "
            f"{n_cols if n_cols is not None else 'n'}). Got an array with shape {arr.shape} instead."
        )
    if n_rows is not None and arr.shape[0] != n_rows:
        raise ValidationError(
            f"The '{param}' parameter must have one row per {rows_of} ({n_rows} rows). "
            f"Got {arr.shape[0]} rows instead."
        )
    if n_cols is not None and arr.shape[1] != n_cols:
        raise ValidationError(
            f"The '{param}' parameter must have {n_cols} columns{cols_hint}. "
            f"Got {arr.shape[1]} columns instead."
        )
    # The row-wise mask (an n x d temporary) is only built when the cheap total is not finite; a
    # float64 total of finite float32 values cannot overflow.
    if np.isfinite(arr.sum(dtype=np.float64)):
        return arr
    bad_rows = np.flatnonzero(~np.isfinite(arr).all(axis=1))
    if bad_rows.size:
        raise ValidationError(
            f"The '{param}' parameter must hold only finite numbers. Got NaN or inf in "
            f"{bad_rows.size} rows (positions {examples(bad_rows.tolist())}) instead."
        )
    return arr


def check_probs(probs: np.ndarray, *, param: str = "probs", atol: float = CONFIG.probs_sum_atol) -> None:
    """Refuse rows that are not probability distributions (entries in [0, 1], sum 1)."""
    if probs.size == 0:
        return
    sums = probs.sum(axis=1)
    # The row-wise masks (and the message) are only built when a cheap whole-array check fails.
    if probs.min() >= 0 and probs.max() <= 1 and np.all(np.abs(sums - 1.0) <= atol):
        return
    bad = np.flatnonzero((np.abs(sums - 1.0) > atol) | (probs < 0).any(axis=1) | (probs > 1).any(axis=1))
    if bad.size:
        raise ValidationError(
            f"The '{param}' parameter must hold probabilities (each row in [0, 1], summing to 1). "
            f"Got rows at positions {examples(bad.tolist())} (first sums to {sums[bad[0]]:.4g}) "
            f"instead; pass raw scores as logits= instead."
        )


def as_positive_int(value: Any, *, param: str) -> int:
    """Return ``value`` as an int; refuse anything but a whole number >= 1 (bool included).

    >>> as_positive_int(3, param="top")
    3
    """
    return _positive_int(value, param=param, expected="a positive integer")


def as_optional_positive_int(value: Any, *, param: str) -> int | None:
    """Return None as it is, anything else checked like :func:`as_positive_int`.

    >>> as_optional_positive_int(None, param="top") is None
    True
    """
    return None if value is None else _positive_int(value, param=param, expected="None or a positive integer")


def _positive_int(value: Any, *, param: str, expected: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValidationError(f"The '{param}' parameter must be {expected}. Got {value!r} instead.")
    return int(value)


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax, computed stably in float64.

    >>> softmax(np.array([[0.0, 0.0]])).tolist()
    [[0.5, 0.5]]
    """
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def as_labels_list(labels: Any, *, param: str = "labels") -> list[str]:
    """Return the run's label names as strings: at least two, unique.

    >>> as_labels_list(["neg", "pos"])
    ['neg', 'pos']
    """
    values = _to_list(param, labels)
    names = [str(v) for v in values]
    if len(names) < 2:
        raise ValidationError(
            f"The '{param}' parameter must list at least 2 classes in model output order. "
            f"Got {len(names)} instead."
        )
    dups = duplicated(np.asarray(names, dtype=object))
    if dups:
        raise ValidationError(
            f"The '{param}' parameter must list each class once. Got duplicates {examples(dups)} instead."
        )
    return names


def check_same_length(param: str, values: Sequence[Any], n: int, *, other: str) -> None:
    """Refuse a per-sample argument whose length differs from ``other``'s."""
    if len(values) != n:
        raise ValidationError(
            f"The '{param}' parameter must have one value per entry of '{other}' ({n}). "
            f"Got {len(values)} instead."
        )
