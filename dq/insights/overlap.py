"""Which classes the model mixes up: overlapping class pairs, frequent confusions, boundary samples.

All three work on whole arrays: class-pair scores come from one ``(C, C)`` accumulation (a sparse
one-hot matrix times ``probs``), never from loops over samples or pairs of samples, so 1M samples
x 200 classes take about a second. Labels are class indices; ``-1`` (unlabeled) samples are left
out of the class-pair analyses.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from dq._util.validate import as_class_indices, as_labels_list, as_matrix, as_optional_positive_int, check_probs
from dq.config import MIN_CLASSES, UNLABELED
from dq.errors import ValidationError
from dq.insights.base import AnalysisResult
from dq.insights.metrics import sparse_confusion

#: Rows of ``probs`` handled at once, bounding the temporary copies made per batch.
BATCH_ROWS = 65_536
#: Classes taken at a time by the class overlap (memory: a block times the classes).
CLASS_BLOCK = 256
#: on_boundary: the share of samples with the smallest top-2 margins that is flagged ...
BOUNDARY_QUANTILE = 0.05
#: ... unless that quantile lies above this margin: a sample whose top two classes are further
#: apart than this is not "on the boundary" however many such samples there are.
BOUNDARY_MAX_MARGIN = 0.1
#: Default number of rows of :func:`top_misclassified_pairs`.
TOP_PAIRS = 10
#: Slack on ``margin <= threshold``: a difference of float32 probabilities is only this exact, and
#: a sample exactly at a fixed threshold (0.55 vs 0.45 at 0.1) must not be lost to rounding.
MARGIN_TOLERANCE = 1e-6
_BOUNDARY_NAME = "on_boundary"


# --- validation -----------------------------------------------------------------------------------


def _as_probs(probs: Any, *, n_rows: int | None = None, n_cols: int | None = None) -> np.ndarray:
    """Return ``probs`` as a 2-D float array (float32 kept, no copy) of probability rows."""
    arr = as_matrix(
        probs,
        param="probs",
        n_rows=n_rows,
        n_cols=n_cols,
        rows_of="entry of 'labels'",
        cols_hint=" (one column per entry of 'class_names')",
    )
    if arr.shape[1] < MIN_CLASSES:
        raise ValidationError(
            f"The 'probs' parameter must have one column per class (at least {MIN_CLASSES}). "
            f"Got an array with shape {arr.shape} instead."
        )
    check_probs(arr)
    return arr


def _check_fraction(param: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not 0.0 <= value <= 1.0:
        raise ValidationError(f"The '{param}' parameter must be a number in [0, 1]. Got {value!r} instead.")
    return float(value)


# --- class overlap --------------------------------------------------------------------------------


def class_overlap(probs: Any, labels: Any, class_names: Sequence[str], *, top: int | None = None) -> pd.DataFrame:
    """Score every pair of classes by how much probability the model moves between them.

    With ``P[a, b]`` = the mean probability that samples labeled ``a`` put on class ``b``, the
    overlap of a pair is ``(P[a, b] + P[b, a]) / 2`` (higher = more overlap). Why this form:

    - it is symmetric and lies in [0, 1] (each ``P`` is a mean of probabilities);
    - it averages per class, so a large class does not outweigh a small one;
    - it reads directly: 0 = the model never confuses the two, about 0.5 = the model cannot
      tell them apart (each class splits its mass between the two), above 0.5 = the two are
      systematically swapped (look at the labels);
    - unlike renormalizing within the pair, a class the model has barely learnt (little mass on
      itself, the rest spread thin) does not make every pair it touches look overlapping.

    A class without labeled samples contributes 0 for its side of each pair.

    Parameters
    ----------
    probs : (n, C) float array
        Predicted probabilities (rows sum to 1).
    labels : (n,) int array
        Ground-truth class indices; ``-1`` marks an unlabeled sample (left out).
    class_names : list of str
        The ``C`` class names in column order.
    top : int, optional
        Keep only the first ``top`` pairs; None keeps all ``C (C - 1) / 2``.

    Returns
    -------
    pandas.DataFrame
        Columns ``class_a``, ``class_b`` (names, ``a`` has the lower index), ``overlap``,
        ``a_on_b`` (``P[a, b]``), ``b_on_a`` (``P[b, a]``) and ``n_confused`` (samples of ``a``
        predicted ``b`` plus samples of ``b`` predicted ``a``; prediction = argmax of
        ``probs``), sorted by overlap, then n_confused, descending.

    Examples
    --------
    >>> probs = [[0.6, 0.4, 0.0], [0.4, 0.6, 0.0], [0.3, 0.7, 0.0], [0.0, 0.1, 0.9]]
    >>> df = class_overlap(probs, [0, 0, 1, 2], ["a", "b", "c"])
    >>> df[["class_a", "class_b", "overlap", "n_confused"]].head(1).to_dict("records")
    [{'class_a': 'a', 'class_b': 'b', 'overlap': 0.4, 'n_confused': 1}]
    """
    names = as_labels_list(class_names, param="class_names")
    labels = as_class_indices(labels, param="labels", n_classes=len(names), allow_unlabeled=True)
    probs = _as_probs(probs, n_rows=labels.size, n_cols=len(names))
    return _compute_class_overlap(probs, labels, names, as_optional_positive_int(top, param="top"))


def _ranked(keys: tuple[np.ndarray, ...], top: int | None) -> np.ndarray:
    """Row order by ``keys`` (``np.lexsort``: the last key sorts first), the first ``top`` rows only."""
    order = np.lexsort(keys)
    return order if top is None else order[:top]


def _pair_counts(labels: np.ndarray, preds: np.ndarray, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """The confusion matrix's non-zero cells as sorted keys ``label * C + pred`` and their counts."""
    keep = labels != UNLABELED
    return np.unique(labels[keep].astype(np.int64) * n_classes + preds[keep], return_counts=True)


def _lookup(keys: np.ndarray, counts: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """The counts of the ``wanted`` keys (0 for a key not among ``keys``, sorted)."""
    if not len(keys):  # no labeled sample: nothing was ever confused
        return np.zeros(len(wanted), dtype=np.int64)
    at = np.minimum(np.searchsorted(keys, wanted), len(keys) - 1)
    return np.where(keys[at] == wanted, counts[at], 0)


def _compute_class_overlap(
    probs: np.ndarray, labels: np.ndarray, class_names: list[str], top: int | None
) -> pd.DataFrame:
    # Class by class in blocks: for the classes a of a block, P[a, :] (their samples' mean
    # probabilities) and P[:, a] (every class's mean probability on them), each a block times the
    # classes; a block keeps its best pairs (a < b) only. Memory stays a block times the classes:
    # no (classes x classes) matrix, no frame of every pair (10,000 classes: 50 million of them).
    n_classes = len(class_names)
    keep = labels != UNLABELED
    lab, kept = labels[keep], probs[keep]
    counts = np.bincount(lab, minlength=n_classes).astype(np.float64)
    inv = np.divide(1.0, counts, out=np.zeros(n_classes), where=counts > 0)
    onehot = sp.csr_matrix((np.ones(lab.size), (lab, np.arange(lab.size))), shape=(n_classes, lab.size))
    values, rows_a, cols_b = [], [], []
    for start in range(0, n_classes, CLASS_BLOCK):
        stop = min(start + CLASS_BLOCK, n_classes)
        p_rows = (onehot[start:stop] @ kept) * inv[start:stop, None]  # (block, C): P[a, b]
        p_cols = (onehot @ kept[:, start:stop]) * inv[:, None]  # (C, block): P[b, a]
        block = (p_rows + p_cols.T) / 2.0
        a_idx = np.arange(start, stop)
        block[np.arange(n_classes)[None, :] <= a_idx[:, None]] = -np.inf  # only pairs a < b
        flat = block.ravel()
        if top is not None and np.isfinite(flat).sum() > top:
            cut = np.partition(flat, flat.size - top)[flat.size - top]
            chosen = np.flatnonzero(flat >= cut)  # ties at the cut kept: the global top stays exact
        else:
            chosen = np.flatnonzero(np.isfinite(flat))
        r, c = np.divmod(chosen, n_classes)
        values.append(np.column_stack([flat[chosen], p_rows[r, c], p_cols[c, r]]))
        rows_a.append(r + start)
        cols_b.append(c)
    found = np.concatenate(values) if values else np.zeros((0, 3))
    a = np.concatenate(rows_a).astype(np.int64) if rows_a else np.zeros(0, dtype=np.int64)
    b = np.concatenate(cols_b).astype(np.int64) if cols_b else np.zeros(0, dtype=np.int64)
    keys, pair_counts = _pair_counts(labels, probs.argmax(axis=1), n_classes)
    n_confused = _lookup(keys, pair_counts, a * n_classes + b) + _lookup(keys, pair_counts, b * n_classes + a)
    # Overlap, then confusions, descending; ties in class-index order (a, then b).
    order = _ranked((b, a, -n_confused, -found[:, 0]), top)
    names = np.asarray(class_names, dtype=object)
    return pd.DataFrame(
        {
            "class_a": names[a[order]],
            "class_b": names[b[order]],
            "overlap": found[order, 0],
            "a_on_b": found[order, 1],
            "b_on_a": found[order, 2],
            "n_confused": n_confused[order].astype(np.int64),
        }
    )


# --- most frequent confusions ---------------------------------------------------------------------


def top_misclassified_pairs(
    labels: Any, preds: Any, class_names: Sequence[str], *, top: int | None = TOP_PAIRS
) -> pd.DataFrame:
    """The most frequent (ground truth -> prediction) mistakes.

    Parameters
    ----------
    labels : (n,) int array
        Ground-truth class indices; ``-1`` marks an unlabeled sample (left out).
    preds : (n,) int array
        Predicted class indices.
    class_names : list of str
        Class names in index order.
    top : int, optional
        Number of pairs to keep (default 10); None keeps every pair that occurs.

    Returns
    -------
    pandas.DataFrame
        Columns ``label``, ``pred`` (names), ``count`` (samples labeled ``label`` predicted
        ``pred``, > 0) and ``share_of_label`` (count / samples labeled ``label``); directed and
        off-diagonal, sorted by count, then share, descending.

    Examples
    --------
    >>> top_misclassified_pairs([0, 0, 0, 1], [1, 1, 0, 0], ["a", "b"]).values.tolist()
    [['a', 'b', 2, 0.6666666666666666], ['b', 'a', 1, 1.0]]
    """
    names = as_labels_list(class_names, param="class_names")
    top = as_optional_positive_int(top, param="top")
    # sparse_confusion() validates labels and preds against the classes and drops unlabeled samples.
    return _compute_top_misclassified(sparse_confusion(labels, preds, len(names)), names, top)


def misclassified_pairs_of_confusion(cm: sp.csr_array, class_names: Sequence[str], *, top: int | None) -> pd.DataFrame:
    """:func:`top_misclassified_pairs` from a confusion matrix already counted."""
    return _compute_top_misclassified(cm, as_labels_list(class_names, param="class_names"), top)


def _compute_top_misclassified(cm: sp.csr_array, class_names: list[str], top: int | None) -> pd.DataFrame:
    cells = cm.tocoo()
    off = (cells.row != cells.col) & (cells.data > 0)
    rows, cols, count = cells.row[off].astype(np.int64), cells.col[off].astype(np.int64), cells.data[off]
    share = count / np.asarray(cm.sum(axis=1)).ravel()[rows]
    order = _ranked((cols, rows, -share, -count), top)
    names_arr = np.asarray(class_names, dtype=object)
    return pd.DataFrame(
        {
            "label": names_arr[rows[order]],
            "pred": names_arr[cols[order]],
            "count": count[order].astype(np.int64),
            "share_of_label": share[order].astype(np.float64),
        }
    )


# --- samples on the decision boundary -------------------------------------------------------------


def on_boundary(
    probs: Any,
    *,
    margin: float | None = None,
    quantile: float = BOUNDARY_QUANTILE,
    max_margin: float = BOUNDARY_MAX_MARGIN,
) -> AnalysisResult:
    """Samples the model nearly splits between two classes.

    The margin of a sample is ``top1 - top2``, the gap between its two highest probabilities.
    The score is ``1 - margin`` (higher = closer to the decision boundary). A sample is flagged
    when ``margin <= threshold``, where the threshold is ``margin`` if given, else
    ``min(quantile-th quantile of the margins, max_margin)``: the ``quantile`` share of samples
    nearest the boundary, but never a sample whose top two classes are more than ``max_margin``
    apart (a confident model has no boundary samples to show). Ties at the threshold are all
    flagged (up to a 1e-6 rounding slack), so exact ties (margin 0) are always flagged.

    Parameters
    ----------
    probs : (n, C) float array
        Predicted probabilities (rows sum to 1); labels are not needed.
    margin : float, optional
        A fixed threshold in [0, 1] instead of the data-derived one.
    quantile : float, default 0.05
        Share of samples with the smallest margins eligible to be flagged.
    max_margin : float, default 0.1
        Cap on the data-derived threshold.

    Returns
    -------
    AnalysisResult
        ``name="on_boundary"``, ``score`` = 1 - margin, ``is_issue``, columns ``margin`` and
        ``runner_up`` (index of the second most probable class; the first is the argmax), and a
        summary with ``threshold``, ``rule``, ``n``, ``n_flagged``, ``quantile``, ``max_margin``.

    Examples
    --------
    >>> r = on_boundary([[0.5, 0.5], [0.9, 0.1], [0.55, 0.45], [1.0, 0.0]], margin=0.1)
    >>> r.is_issue.tolist(), r.columns["runner_up"].tolist(), r.summary["n_flagged"]
    ([True, False, True, False], [1, 1, 1, 1], 2)
    """
    probs = _as_probs(probs)
    if margin is not None:
        margin = _check_fraction("margin", margin)
    quantile = _check_fraction("quantile", quantile)
    max_margin = _check_fraction("max_margin", max_margin)
    return _compute_on_boundary(probs, margin=margin, quantile=quantile, max_margin=max_margin)


def _top2(probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Top-1 minus top-2 probability and the runner-up's index, batch by batch.

    Masking the argmax and taking the max again is about 20x faster than ``np.argpartition`` on
    wide rows, and makes the runner-up differ from the argmax even when the two are tied.
    """
    n = probs.shape[0]
    margin = np.empty(n, dtype=np.float64)
    runner_up = np.empty(n, dtype=np.int64)
    for start in range(0, n, BATCH_ROWS):
        chunk = np.array(probs[start : start + BATCH_ROWS], dtype=np.float64)
        rows = np.arange(chunk.shape[0])
        best = chunk.argmax(axis=1)
        top1 = chunk[rows, best]
        chunk[rows, best] = -np.inf
        second = chunk.argmax(axis=1)
        margin[start : start + chunk.shape[0]] = top1 - chunk[rows, second]
        runner_up[start : start + chunk.shape[0]] = second
    return margin, runner_up


def _compute_on_boundary(
    probs: np.ndarray, *, margin: float | None, quantile: float, max_margin: float
) -> AnalysisResult:
    margins, runner_up = _top2(probs)
    if margin is not None:
        threshold: float | None = margin
        rule = "fixed margin"
    elif margins.size:
        threshold = min(float(np.quantile(margins, quantile)), max_margin)
        rule = "min(quantile of margins, max_margin)"
    else:
        threshold, rule = None, "no samples"
    is_issue = margins <= threshold + MARGIN_TOLERANCE if threshold is not None else np.zeros(0, dtype=bool)
    summary = {
        "threshold": threshold,
        "rule": rule,
        "n": int(margins.size),
        "n_flagged": int(is_issue.sum()),
        "quantile": quantile,
        "max_margin": max_margin,
    }
    return AnalysisResult(
        name=_BOUNDARY_NAME,
        score=1.0 - margins,
        is_issue=is_issue,
        columns={"margin": margins, "runner_up": runner_up},
        summary=summary,
    )
