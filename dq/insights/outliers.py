"""Outliers (training samples in a sparse neighborhood) and out-of-coverage evaluation samples.

Both score a sample as ``1 - mean cosine similarity to its k nearest neighbors``: 0 for a sample
among copies of itself, near 1 for one unrelated to every other sample. The threshold comes
from the training data (its ``1 - outlier_share`` quantile) so it adapts to how spread a dataset
is, but a sample scoring below :data:`OUTLIER_MIN_SCORE` is never flagged, however tight the data.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dq._util.validate import examples
from dq.errors import ValidationError
from dq.insights.base import AnalysisResult
from dq.insights.neighbors import Neighbors, check_neighbors
from dq.insights.settings import InsightSettings

#: Absolute floor on the outlier score: a sample whose k nearest neighbors have a mean cosine
#: similarity of at least 0.7 sits inside a topic and is not called unusual. Measured on BANKING77
#: with MiniLM: same-intent pairs have median cosine 0.60 (75th percentile 0.71), different-intent
#: pairs 0.20; 90% of training samples score below 0.27 and the top 1% above 0.41, so on real data
#: the quantile decides and the floor only stops a tight dataset (paraphrases, templated texts,
#: all scoring ~0.1) from having its top 1% flagged as noise.
OUTLIER_MIN_SCORE = 0.3
_OUTLIER = "outlier"
_OUT_OF_COVERAGE = "out_of_coverage"


def find_outliers(nbrs: Neighbors, *, settings: InsightSettings = InsightSettings()) -> AnalysisResult:
    """Flag the training samples whose neighborhood is sparsest.

    Parameters
    ----------
    nbrs : Neighbors
        The split's neighbors among itself (``knn(embs, k=...)``).
    settings : InsightSettings
        ``outlier_share``: the share of samples with the highest scores that is flagged.

    Returns
    -------
    AnalysisResult
        ``name="outlier"``; ``score`` = 1 - mean cosine similarity to the k neighbors (higher =
        more unusual); ``is_issue`` = score above the ``1 - outlier_share`` quantile and at least
        :data:`OUTLIER_MIN_SCORE`; summary ``threshold`` (the effective one: the larger of the
        quantile and the floor), ``quantile``, ``floor``, ``n_outliers``.

    Examples
    --------
    >>> from dq.insights.neighbors import knn
    >>> rng = np.random.default_rng(0)
    >>> embs = np.vstack([np.ones((99, 8)) + 0.01 * rng.standard_normal((99, 8)), -np.eye(8)[:1]])
    >>> result = find_outliers(knn(embs, k=5))
    >>> np.flatnonzero(result.is_issue).tolist(), result.summary["n_outliers"]
    ([99], 1)
    """
    check_neighbors(nbrs, param="nbrs")
    return _compute_outliers(nbrs, _check_share(settings))


def _compute_outliers(nbrs: Neighbors, share: float) -> AnalysisResult:
    result, quantile = _flag_sparse(_OUTLIER, nbrs, share)
    result.summary.update(quantile=quantile, floor=OUTLIER_MIN_SCORE, n_outliers=int(result.is_issue.sum()))
    return result


def find_out_of_coverage(
    query_nbrs_to_training: Neighbors,
    training_outlier_scores: Any,
    *,
    settings: InsightSettings = InsightSettings(),
) -> AnalysisResult:
    """Flag evaluation samples that lie where the training data is sparser than at its outliers.

    Parameters
    ----------
    query_nbrs_to_training : Neighbors
        Each validation/test sample's nearest training samples (``knn(train_embs, k=...,
        queries=embs)``).
    training_outlier_scores : (n_train,) array of float
        ``find_outliers(...).score`` of the training split.
    settings : InsightSettings
        ``outlier_share`` picks the quantile of the training scores used as the threshold.

    Returns
    -------
    AnalysisResult
        ``name="out_of_coverage"``; ``score`` = 1 - mean cosine similarity to the k nearest
        training samples (higher = less covered); ``is_issue`` = score above the training
        outliers' threshold (and at least :data:`OUTLIER_MIN_SCORE`); summary ``threshold``,
        ``n_flagged``, ``share`` (flagged / samples).

    Examples
    --------
    >>> from dq.insights.neighbors import knn
    >>> rng = np.random.default_rng(0)
    >>> train = np.ones((100, 8)) + 0.01 * rng.standard_normal((100, 8))
    >>> queries = np.vstack([np.ones((1, 8)), -np.eye(8)[:1]])
    >>> training = find_outliers(knn(train, k=5))
    >>> result = find_out_of_coverage(knn(train, k=5, queries=queries), training.score)
    >>> result.is_issue.tolist()
    [False, True]
    """
    check_neighbors(query_nbrs_to_training, param="query_nbrs_to_training")
    share = _check_share(settings)
    try:
        training = np.asarray(training_outlier_scores, dtype=np.float64)
    except (TypeError, ValueError):
        training = np.asarray([np.nan])
    if training.ndim != 1 or not np.isfinite(training).all():
        bad = training[~np.isfinite(training)].tolist() if training.ndim == 1 else training.shape
        raise ValidationError(
            f"The 'training_outlier_scores' parameter must be a 1-D array of finite scores "
            f"(find_outliers(...).score). Got {examples(bad) if isinstance(bad, list) else bad} instead."
        )
    return _compute_out_of_coverage(query_nbrs_to_training, training, share)


def _compute_out_of_coverage(nbrs: Neighbors, training: np.ndarray, share: float) -> AnalysisResult:
    result, _ = _flag_sparse(_OUT_OF_COVERAGE, nbrs, share, reference=training)
    n_flagged = int(result.is_issue.sum())
    result.summary.update(n_flagged=n_flagged, share=n_flagged / result.score.size if result.score.size else 0.0)
    return result


def _flag_sparse(
    name: str, nbrs: Neighbors, share: float, *, reference: np.ndarray | None = None
) -> tuple[AnalysisResult, float]:
    """Score each sample by its neighborhood and flag the scores above the threshold.

    The threshold is the ``1 - share`` quantile of ``reference`` (default: the scores themselves),
    raised to :data:`OUTLIER_MIN_SCORE`. Returns the result, whose summary holds that effective
    ``threshold`` (callers add their own counts), and the quantile.
    """
    scores = _neighborhood_scores(nbrs)
    quantile = _quantile_threshold(scores if reference is None else reference, share)
    # Strictly above the quantile: ties at the top (a tight dataset) flag nothing rather than all.
    flagged = (scores > quantile) & (scores >= OUTLIER_MIN_SCORE)
    summary: dict[str, Any] = {"threshold": max(quantile, OUTLIER_MIN_SCORE)}
    return AnalysisResult(name=name, score=scores, is_issue=flagged, columns={}, summary=summary), quantile


def _check_share(settings: Any) -> float:
    share = settings.outlier_share if isinstance(settings, InsightSettings) else None
    if not isinstance(share, (int, float)) or isinstance(share, bool) or not 0 <= share < 1:
        raise ValidationError(
            f"The 'settings.outlier_share' parameter must be a share in [0, 1). Got {share!r} instead."
        )
    return float(share)


def _neighborhood_scores(nbrs: Neighbors) -> np.ndarray:
    """1 - mean cosine similarity to the neighbors; 0 (never flagged) without neighbors."""
    if nbrs.k == 0:
        return np.zeros(nbrs.sims.shape[0], dtype=np.float32)
    return (1.0 - nbrs.sims.mean(axis=1, dtype=np.float64)).astype(np.float32)


def _quantile_threshold(scores: np.ndarray, share: float) -> float:
    """The ``1 - share`` quantile of ``scores``: above it lie the top ``share`` of them."""
    if scores.size == 0:
        return OUTLIER_MIN_SCORE
    return float(np.quantile(scores, 1.0 - share))
