"""Data Error Potential (DEP): how likely a sample's label is wrong, from 0 to 1 (higher = worse).

DEP is computed from a combined posterior ``M`` over the classes (see docs/dep.md for the
evidence behind each part):

1. **Training dynamics.** The per-epoch probabilities are pooled: all epochs, the later half, or
   the last one — whichever fits the given labels best (lowest log loss). Averaging over epochs
   is an area-under-the-margin style signal: a sample whose label the model only accepts late,
   or never, keeps a low average.
2. **Neighbor agreement.** The label distribution of the sample's nearest neighbors in
   embedding space (training samples; softmax-weighted by similarity), mixed in with weight
   ``w`` chosen the same way. It votes with evidence the classifier did not use directly.
3. **Score.** ``DEP = (1 - M[y]) ** a * ((1 - margin) / 2) ** (1 - a)`` where ``margin`` is
   ``M[y]`` minus the largest other class, ``a = DEP_SELF_WEIGHT``. The self-confidence term ranks
   random (uniform) label noise best; the margin term adds the evidence of one strong
   alternative class, which is what class-conditional noise looks like.

The likely-mislabeled set and the suggested label come from the same posterior: the number of
label errors is estimated by confident learning's counting rule, and that many of the
highest-DEP samples (fewer with ``strictness``) whose posterior prefers another class are flagged.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dq.config import DEFAULT_STRICTNESS
from dq.errors import ValidationError
from dq.insights.base import AnalysisResult
from dq.insights.posterior import BLOCK_ROWS as _BLOCK_ROWS
from dq.insights.posterior import LOG_EPS as _EPS
from dq.insights.posterior import EpochPools, combine_views

#: Exponent of the self-confidence term of DEP (the margin term gets the rest). 0.8 before the lexical
#: view; with it in the posterior, 0.9 keeps most of the margin's gain under class-conditional noise
#: and loses far less under uniform noise on many classes (docs/dep.md, the ablation).
DEP_SELF_WEIGHT = 0.9
#: A suggested label needs at least this probability of being the true class *given that the label
#: is wrong* (its posterior over the other classes' total), else "no confident suggestion". Measured
#: (docs/benchmarks.md, suggestion calibration): from 0.4 up the suggestion is right more often
#: than not on every dataset and noise; below it, less often.
SUGGESTION_MIN_PROB = 0.4


def margins(probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``probs[label]`` minus the largest probability of any other class, per row.

    >>> margins(np.array([[0.7, 0.2, 0.1]]), np.array([1])).round(2).tolist()
    [-0.5]
    """
    own = probs[np.arange(len(labels)), labels]
    return own - _best_other(probs, labels)[1]


def _best_other(probs: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the most probable class other than ``labels`` and its probability (in blocks of
    rows: no copy of the whole matrix)."""
    n = len(labels)
    best = np.empty(n, dtype=np.int64)
    value = np.empty(n, dtype=probs.dtype)
    for start in range(0, n, _BLOCK_ROWS):
        block = np.array(probs[start : start + _BLOCK_ROWS])
        rows = np.arange(len(block))
        block[rows, labels[start : start + _BLOCK_ROWS]] = -np.inf
        best[start : start + len(block)] = block.argmax(axis=1)
        value[start : start + len(block)] = block[rows, best[start : start + len(block)]]
    return best, value


def dep_from_posterior(probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """DEP in [0, 1] from a posterior and the given labels (see the module docstring).

    >>> [round(float(x), 2) for x in dep_from_posterior(np.array([[0.9, 0.1], [0.1, 0.9]]), np.array([0, 0]))]
    [0.1, 0.9]
    """
    rows = np.arange(len(labels))
    self_term = np.clip(1.0 - probs[rows, labels], 0.0, 1.0)
    margin_term = np.clip((1.0 - margins(probs, labels)) / 2.0, 0.0, 1.0)
    return (self_term**DEP_SELF_WEIGHT * margin_term ** (1 - DEP_SELF_WEIGHT)).astype(np.float32)


def suggest_labels(probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """The most probable class other than the given one, or -1 when it is not confident.

    Only where the posterior prefers another class to the label (as for every flagged sample).
    Confidence is that class's share of the probability the other classes hold,
    ``probs[j] / (1 - probs[label])``: how likely ``j`` is the true class if the given label is
    wrong. It must reach ``SUGGESTION_MIN_PROB``.

    >>> P = np.array([[0.3, 0.5, 0.2, 0.0], [0.7, 0.2, 0.1, 0.0], [0.1, 0.3, 0.3, 0.3]])
    >>> suggest_labels(P, np.array([0, 0, 0])).tolist()
    [1, -1, -1]
    """
    rows = np.arange(len(labels))
    best, rival = _best_other(probs, labels)
    own = probs[rows, labels]
    share = rival / np.maximum(1.0 - own, _EPS)
    confident = (rival >= own) & (share >= SUGGESTION_MIN_PROB)
    return np.where(confident, best, -1).astype(np.int64)


def _confident_counts(probs: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per given class: how many of its samples enter confident learning's joint, and how many of
    those in its own column (the joint's row sums and diagonal; the joint itself is never built).

    A sample enters row ``label`` when some class ``j`` reaches its class threshold ``t_j`` (the
    mean posterior of ``j`` over samples labeled ``j``), in the column of the most probable such
    class (Northcutt et al. 2021); samples reaching no threshold are left out. Rows are taken in
    blocks, so memory stays a block times the classes (10,000 classes: no 10,000² matrix).
    """
    n_classes = probs.shape[1]
    thresholds = np.ones(n_classes, dtype=np.float64)
    sums = np.bincount(labels, weights=probs[np.arange(len(labels)), labels], minlength=n_classes)
    counts = np.bincount(labels, minlength=n_classes)
    np.divide(sums, counts, out=thresholds, where=counts > 0)
    rows = np.zeros(n_classes, dtype=np.int64)
    diagonal = np.zeros(n_classes, dtype=np.int64)
    for start in range(0, len(labels), _BLOCK_ROWS):
        chunk, lab = probs[start : start + _BLOCK_ROWS], labels[start : start + _BLOCK_ROWS]
        above = chunk >= thresholds
        confident = np.where(above, chunk, -1.0).argmax(axis=1)
        has = above.any(axis=1)
        rows += np.bincount(lab[has], minlength=n_classes)
        diagonal += np.bincount(lab[has & (confident == lab)], minlength=n_classes)
    return rows, diagonal


def estimate_error_count(probs: np.ndarray, labels: np.ndarray) -> int:
    """How many given labels look wrong: the off-diagonal of confident learning's confident joint.

    >>> estimate_error_count(np.array([[0.9, 0.1], [0.8, 0.2], [0.1, 0.9], [0.9, 0.1]]), np.array([0, 0, 1, 1]))
    1
    """
    rows, diagonal = _confident_counts(probs, labels)
    return int(rows.sum() - diagonal.sum())


def estimate_error_range(probs: np.ndarray, labels: np.ndarray) -> tuple[int, int, int]:
    """``(estimate, low, high)``: how many given labels are wrong, with the span of two estimators.

    The two are confident learning's count (off-diagonal of the confident joint) and the same
    joint calibrated to the label counts (each row rescaled to its class's size, so samples that
    reach no threshold are shared out like those that do). The count undercounts noise that
    follows the text (ambiguous samples mislabeled towards the class they resemble); the
    calibrated joint overcounts where the model is often wrong on correct labels. The estimate is
    their geometric mean; docs/benchmarks.md measures how far it lands from the truth.

    >>> rng = np.random.default_rng(0); truth = rng.integers(0, 3, 300)
    >>> labels = np.where(rng.random(300) < 0.1, (truth + 1) % 3, truth)  # 28 labels flipped
    >>> P = np.exp(2 * np.eye(3)[truth] + rng.normal(size=(300, 3))); P /= P.sum(axis=1, keepdims=True)
    >>> estimate_error_range(P, labels)
    (28, 23, 34)
    """
    rows, diagonal = _confident_counts(probs, labels)
    counted = float(rows.sum() - diagonal.sum())
    # The calibrated joint rescales each row to its class's size: its off-diagonal mass per row is
    # size * (row - diagonal) / row.
    sizes = np.bincount(labels, minlength=probs.shape[1]).astype(np.float64)
    off = np.divide((rows - diagonal) * sizes, rows, out=np.zeros(len(rows)), where=rows > 0)
    spread = float(off.sum())
    low, high = sorted((counted, spread))
    return int(round(np.sqrt(low * high))), int(round(low)), int(round(high))


def flag_mislabeled(dep: np.ndarray, prefers_other: np.ndarray, n_estimated: int, *, strictness: float) -> np.ndarray:
    """Flag the ``round(n_estimated * (1 - strictness / 2))`` highest-DEP samples that prefer another class.

    ``strictness`` 0 flags as many samples as there are estimated errors (recall); 1 flags half
    as many, the surest (precision).

    >>> flag_mislabeled(np.array([0.9, 0.6, 0.1]), np.array([True, True, False]), 2, strictness=1.0).tolist()
    [True, False, False]
    """
    k = int(round(n_estimated * (1.0 - strictness / 2.0)))
    order = np.argsort(-dep, kind="stable")
    order = order[prefers_other[order]][:k]
    flagged = np.zeros(len(dep), dtype=bool)
    flagged[order] = True
    return flagged


def compute_dep(
    epoch_probs: Any,
    labels: Any,
    *,
    neighbor_probs: Any = None,
    strictness: float = DEFAULT_STRICTNESS,
    in_sample: bool = False,
    views: dict[str, Any] | None = None,
) -> AnalysisResult:
    """DEP, likely-mislabeled flags and suggested labels for one split.

    Parameters
    ----------
    epoch_probs : (E, n, C) array
        Probabilities of every epoch, oldest first.
    labels : (n,) int array
        Given labels as class indices; ``-1`` for unlabeled samples, whose DEP is computed
        against the predicted class (so it measures uncertainty) and which are never flagged.
    neighbor_probs : (n, C) array, optional
        Neighbor label distribution (``dq.insights.neighbors.knn_label_distribution``).
    strictness : float in [0, 1]
        The precision/recall knob of the mislabeled flag: 0 flags as many samples as the
        estimated number of label errors, 1 half as many (fewer, surer flags).
    in_sample : bool
        The probabilities come from the model being trained on these samples (an integration's
        run), not from cross-fitted models: every epoch is pooled (see :func:`combine_views`).
    views : dict of name -> (n, C) array, optional
        Other models' probabilities for the same samples (a run's views), weighed in by log loss.

    Returns
    -------
    AnalysisResult
        ``name="mislabeled"``, ``score`` = DEP, ``is_issue`` = likely mislabeled; columns
        ``suggested_label`` (class index, -1 = none), ``p_wrong``, ``pred`` (argmax of the
        combined posterior); summary with the views chosen.

    Examples
    --------
    >>> P = np.array([[[0.9, 0.1], [0.1, 0.9], [0.95, 0.05]]])
    >>> r = compute_dep(P, np.array([0, 1, 1]), strictness=0.0)
    >>> [round(float(x), 2) for x in r.score], r.is_issue.tolist(), r.columns["suggested_label"].tolist()
    ([0.1, 0.1, 0.95], [False, False, True], [-1, -1, 0])
    """
    probs = epoch_probs if isinstance(epoch_probs, EpochPools) else np.asarray(epoch_probs, dtype=np.float32)
    shape = probs.all.shape if isinstance(probs, EpochPools) else probs.shape[1:]
    if not isinstance(probs, EpochPools) and probs.ndim != 3:
        raise ValidationError(
            f"The 'epoch_probs' parameter must be a 3-D array (epochs, samples, classes). "
            f"Got shape {probs.shape} instead."
        )
    labels = np.asarray(labels, dtype=np.int64)
    if labels.shape != (shape[0],):
        raise ValidationError(
            f"The 'labels' parameter must have one entry per sample ({shape[0]}). Got shape {labels.shape} instead."
        )
    if not 0 <= strictness <= 1:
        raise ValidationError(f"The 'strictness' parameter must be in [0, 1]. Got {strictness!r} instead.")
    nbr = None if neighbor_probs is None else np.asarray(neighbor_probs, dtype=np.float32)
    extra = {}
    for name, view in (views or {}).items():
        extra[name] = np.asarray(view, dtype=np.float32)
        if extra[name].shape != tuple(shape):
            raise ValidationError(
                f"The 'views' parameter must hold (samples, classes) = {tuple(shape)} arrays. "
                f"Got {extra[name].shape} for view {name!r} instead."
            )
    return _compute_dep(probs, labels, nbr, strictness, in_sample=bool(in_sample), views=extra)


def _compute_dep(
    probs: np.ndarray | EpochPools,
    labels: np.ndarray,
    nbr: np.ndarray | None,
    strictness: float,
    *,
    in_sample: bool,
    views: dict[str, np.ndarray],
) -> AnalysisResult:
    post = combine_views(probs, nbr, labels, in_sample=in_sample, views=views)
    preds = post.probs.argmax(axis=1)
    labeled = labels >= 0
    judged = np.where(labeled, labels, preds)
    dep = dep_from_posterior(post.probs, judged)
    rows = np.arange(len(labels))
    p_wrong = np.clip(1.0 - post.probs[rows, judged], 0.0, 1.0)
    suggested = np.where(labeled, suggest_labels(post.probs, judged), -1)
    prefers_other = labeled & (preds != labels)
    n_estimated, n_low, n_high = (
        estimate_error_range(post.probs[labeled], labels[labeled]) if labeled.any() else (0, 0, 0)
    )
    flagged = flag_mislabeled(dep, prefers_other, n_estimated, strictness=strictness)
    summary = {
        "epochs_pooled": post.epochs,
        "neighbor_weight": post.neighbor_weight,
        "view_weights": post.view_weights,
        "n_mislabeled": int(flagged.sum()),
        "n_with_suggestion": int((flagged & (suggested >= 0)).sum()),
        "strictness": strictness,
        "estimated_errors": n_estimated,
        "estimated_errors_range": [n_low, n_high],
    }
    return AnalysisResult(
        name="mislabeled",
        score=dep,
        is_issue=flagged,
        columns={"suggested_label": suggested, "p_wrong": p_wrong.astype(np.float32), "pred": preds},
        summary=summary,
    )
