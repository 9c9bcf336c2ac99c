"""Argument checks shared by the public functions of dq.

Each check raises :class:`~dq.errors.ValidationError` with a message that names the parameter,
what was expected and what was received, and returns the value converted to the type dq stores.
"""

from __future__ import annotations

from collections.abc import Iterable, Sized
from typing import Any

import numpy as np

from dq.config import CONFIG, UNLABELED
from dq.errors import ValidationError


def examples(values: Iterable[Any], *, limit: int = CONFIG.error_examples) -> str:
    """Format the first few offending values for an error message.

    >>> examples([1, 2, 3, 4, 5, 6, 7], limit=3)
    '1, 2, 3, ...'
    """
    values = list(values)
    shown = ", ".join(repr(v) if isinstance(v, str) else str(v) for v in values[:limit])
    return shown + (", ..." if len(values) > limit else "")


def plain(value: Any) -> Any:
    """A framework's tensor as a NumPy array (a PyTorch tensor detached and moved to the CPU, a
    TensorFlow or Keras tensor through its ``numpy()``); anything else as it is.

    >>> import torch
    >>> plain(torch.ones(2, requires_grad=True) * 2)
    array([2., 2.], dtype=float32)
    """
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # torch.Tensor (also one that requires grad)
        tensor = value.detach().cpu()
        return (tensor.float() if str(tensor.dtype) == "torch.bfloat16" else tensor).numpy()
    if not isinstance(value, np.ndarray) and callable(getattr(value, "numpy", None)):  # tf.Tensor, EagerTensor
        return value.numpy()
    return value


def as_list(value: Any, *, param: str) -> list[Any]:
    """``value`` (a list, an array, a Series, a framework's tensor) as a list of Python values.

    >>> import numpy as np
    >>> as_list(np.array([1, 2]), param="ids")
    [1, 2]
    """
    return _to_list(param, value)


def _to_list(param: str, value: Any) -> list[Any]:
    value = plain(value)
    if value is None or isinstance(value, (str, bytes, dict)):
        raise ValidationError(
            f"The '{param}' parameter must be a sequence (list, array, Series). Got {type(value).__name__} instead."
        )
    if hasattr(value, "tolist"):
        return list(value.tolist())
    try:
        return list(value)
    except TypeError:
        raise ValidationError(
            f"The '{param}' parameter must be a sequence (list, array, Series). Got {type(value).__name__} instead."
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
    if all(is_int(v) for v in values):
        kind, arr = "int", np.asarray(values, dtype=np.int64)
    elif all(isinstance(v, str) for v in values):
        kind, arr = "str", np.asarray(values, dtype=object)
    else:
        bad = [v for v in values if not isinstance(v, (str, int, np.integer)) or isinstance(v, bool)]
        raise ValidationError(
            f"The '{param}' parameter must hold only integers or only strings. Got {examples(bad or values)} instead."
        )
    if values and id_type is not None and kind != id_type:
        raise ValidationError(
            f"The '{param}' parameter must hold {id_type} ids like the rest of this run. Got {kind} ids instead."
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
        arr = np.asarray(plain(value))
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
            f"The '{param}' parameter must have one row per {rows_of} ({n_rows} rows). Got {arr.shape[0]} rows instead."
        )
    if n_cols is not None and arr.shape[1] != n_cols:
        raise ValidationError(
            f"The '{param}' parameter must have {n_cols} columns{cols_hint}. Got {arr.shape[1]} columns instead."
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


def as_name(value: Any, *, param: str) -> str:
    """A project or run name: non-empty, no '/', not starting with '.' (it names a directory).

    >>> as_name("support", param="project")
    'support'
    >>> as_name("../x", param="project")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    dq.errors.ValidationError: The 'project' parameter must be a non-empty name without '/' ... Got '../x' instead.
    """
    if not isinstance(value, str) or not value.strip() or "/" in value or "\\" in value or value.startswith("."):
        raise ValidationError(
            f"The '{param}' parameter must be a non-empty name without '/' that does not start with '.'. "
            f"Got {value!r} instead."
        )
    return value


def as_positive_int(value: Any, *, param: str, owner: str | None = None) -> int:
    """Return ``value`` as an int; refuse anything but a whole number >= 1 (bool included).

    >>> as_positive_int(3, param="top")
    3
    """
    return _positive_int(value, param=param, expected="an integer >= 1", owner=owner)


def as_optional_positive_int(value: Any, *, param: str) -> int | None:
    """Return None as it is, anything else checked like :func:`as_positive_int`.

    >>> as_optional_positive_int(None, param="top") is None
    True
    """
    return None if value is None else _positive_int(value, param=param, expected="None or an integer >= 1")


def is_int(value: Any) -> bool:
    """Whether ``value`` is a Python or NumPy integer (a bool is not).

    >>> is_int(3), is_int(np.int64(3)), is_int(True), is_int(3.0)
    (True, True, False, False)
    """
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def as_non_negative_int(value: Any, *, param: str) -> int:
    """Return ``value`` as an int if it is an integer >= 0 (not a bool), else raise ``ValidationError``.

    >>> as_non_negative_int(0, param="epoch")
    0
    """
    if not is_int(value) or value < 0:
        raise ValidationError(f"The '{param}' parameter must be an integer >= 0. Got {value!r} instead.")
    return int(value)


def _positive_int(value: Any, *, param: str, expected: str, owner: str | None = None) -> int:
    if not is_int(value) or value < 1:
        where = f"'{param}' parameter" + (f" of {owner}" if owner else "")
        raise ValidationError(f"The {where} must be {expected}. Got {value!r} instead.")
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
            f"The '{param}' parameter must list at least 2 classes in model output order. Got {len(names)} instead."
        )
    dups = duplicated(np.asarray(names, dtype=object))
    if dups:
        raise ValidationError(
            f"The '{param}' parameter must list each class once. Got duplicates {examples(dups)} instead."
        )
    return names


def check_same_length(param: str, values: Sized, n: int, *, other: str) -> None:
    """Refuse a per-sample argument whose length differs from ``other``'s."""
    if len(values) != n:
        raise ValidationError(
            f"The '{param}' parameter must have one value per entry of '{other}' ({n}). Got {len(values)} instead."
        )


def as_class_indices(values: Any, *, param: str, n_classes: int, allow_unlabeled: bool) -> np.ndarray:
    """Return ``values`` as a 1-D int64 array of class indices in ``[0, n_classes)``.

    With ``allow_unlabeled`` the value :data:`UNLABELED` is accepted too. Whole-number floats
    are accepted (Parquet may hand back labels as floats); anything else is refused with a
    :class:`~dq.errors.ValidationError` naming ``param``.

    >>> as_class_indices([0, 2, -1], param="labels", n_classes=3, allow_unlabeled=True).tolist()
    [0, 2, -1]
    """
    try:
        arr = np.asarray(plain(values))
    except (TypeError, ValueError):
        arr = np.asarray([None])
    if arr.ndim != 1:
        raise ValidationError(
            f"The '{param}' parameter must be a 1-D sequence of class indices. "
            f"Got an array with shape {arr.shape} instead."
        )
    if arr.size == 0:
        return np.zeros(0, dtype=np.int64)
    if arr.dtype.kind == "f":
        whole = np.isfinite(arr) & (arr == np.round(arr))
        if not whole.all():
            raise ValidationError(
                f"The '{param}' parameter must hold whole-number class indices. Got "
                f"{examples(arr[~whole].tolist())} instead."
            )
    elif arr.dtype.kind not in "iu":
        raise ValidationError(
            f"The '{param}' parameter must hold integer class indices (0 .. n_classes - 1). "
            f"Got values of type {arr.dtype} instead."
        )
    arr = arr.astype(np.int64, copy=False)
    low = UNLABELED if allow_unlabeled else 0
    lo, hi = int(arr.min()), int(arr.max())
    if lo < low or hi >= n_classes:
        bad = arr[(arr < low) | (arr >= n_classes)]
        allowed = f"{UNLABELED} (unlabeled) or " if allow_unlabeled else ""
        raise ValidationError(
            f"The '{param}' parameter must hold {allowed}class indices 0 .. {n_classes - 1}. "
            f"Got {examples(np.unique(bad).tolist())} instead."
        )
    return arr


def as_floats(values: Any, *, param: str, n: int, other: str) -> np.ndarray:
    """``values`` as a float64 array of ``n`` finite numbers (``n`` is the length of ``other``)."""
    arr = np.asarray(values)
    if arr.ndim != 1 or arr.dtype.kind not in "fiub" or not np.isfinite(arr.astype(np.float64)).all():
        raise ValidationError(
            f"The '{param}' parameter must be a 1-D array of finite numbers. "
            f"Got {arr.dtype} with shape {arr.shape} instead."
        )
    check_same_length(param, arr, n, other=other)
    return arr.astype(np.float64)


def as_bools(values: Any, *, param: str, n: int, other: str) -> np.ndarray:
    """``values`` as a bool array of ``n`` (booleans or 0/1; ``n`` is the length of ``other``)."""
    arr = np.asarray(values)
    zero_one = arr.dtype.kind == "b" or (arr.dtype.kind == "i" and np.isin(arr, (0, 1)).all())
    if arr.ndim != 1 or not zero_one:
        raise ValidationError(
            f"The '{param}' parameter must be a 1-D array of booleans. Got {arr.dtype} with shape {arr.shape} instead."
        )
    check_same_length(param, arr, n, other=other)
    return arr.astype(bool)
