"""Embedding matrices as dq computes with them: C-contiguous unit rows, float32 (float16 kept for a
large split), and the float32 blocks faiss and BLAS are handed."""

from __future__ import annotations

from typing import Any

import numpy as np

from dq._util.validate import examples, plain
from dq.errors import ValidationError

#: Rows per pass when checking or normalizing embeddings (bounds the temporary memory).
_NORM_BATCH = 16_384
#: A row whose L2 norm differs from 1 by more than this is renormalized (on a copy).
NORM_TOLERANCE = 1e-3
#: The same for float16 rows, whose rounding alone moves a unit row's norm by up to ~1e-3.
NORM_TOLERANCE_FLOAT16 = 4e-3


def as_embs(value: Any, *, param: str, dim: int | None = None) -> np.ndarray:
    """Return ``value`` as C-contiguous float32 rows of unit length, copying only when needed.

    float16 input stays float16 (half the memory of a large split: ``Run.embs(..., dtype=)``); the
    code that hands blocks of it to faiss or BLAS converts each block with :func:`f32`.

    Zero rows stay zero (similar to nothing). Refuses non-2-D, non-numeric and non-finite input.

    >>> as_embs([[3.0, 4.0]], param="embs").astype(float).round(2).tolist()
    [[0.6, 0.8]]
    """
    try:
        given = np.asarray(plain(value))
    except (TypeError, ValueError):
        given = np.asarray(None)
    arr = given
    if arr.dtype.kind not in "fiu" or arr.ndim != 2 or (dim is not None and arr.shape[1] != dim):
        want = f"(n, {dim})" if dim is not None else "(n, d)"
        raise ValidationError(
            f"The '{param}' parameter must be a 2-D numeric array of shape {want}. "
            f"Got {arr.dtype} with shape {arr.shape} instead."
        )
    arr = np.ascontiguousarray(arr, dtype=np.float16 if arr.dtype == np.float16 else np.float32)
    norms = np.empty(arr.shape[0], dtype=np.float32)
    for start in range(0, arr.shape[0], _NORM_BATCH):
        block = f32(arr[start : start + _NORM_BATCH])
        norms[start : start + len(block)] = np.sqrt(np.einsum("ij,ij->i", block, block))
    bad = np.flatnonzero(~np.isfinite(norms))
    if bad.size:  # NaN or inf, or finite values whose float32 squares overflowed
        norms[bad] = np.linalg.norm(arr[bad].astype(np.float64), axis=1)
        bad = bad[~np.isfinite(norms[bad])]
    if bad.size:
        raise ValidationError(
            f"The '{param}' parameter must hold only finite numbers. Got NaN or inf in "
            f"{bad.size} rows (positions {examples(bad.tolist())}) instead."
        )
    # float16 rounds a unit row's norm by up to ~1e-3: only a norm further off than that is rescaled.
    tolerance = NORM_TOLERANCE if arr.dtype == np.float32 else NORM_TOLERANCE_FLOAT16
    off = (np.abs(norms - 1) > tolerance) & (norms > 0)
    if off.any():
        if np.may_share_memory(arr, given):
            arr = arr.copy()  # never normalize the caller's array in place
        rows = np.flatnonzero(off)
        for start in range(0, rows.size, _NORM_BATCH):
            sel = rows[start : start + _NORM_BATCH]
            arr[sel] = f32(arr[sel]) / norms[sel, None]
    return arr


def f32(block: np.ndarray) -> np.ndarray:
    """A block of (possibly float16) embeddings as C-contiguous float32, as faiss wants it; no copy
    when it already is.

    >>> f32(np.ones((2, 2), dtype=np.float16)).dtype
    dtype('float32')
    """
    return np.ascontiguousarray(block, dtype=np.float32)
