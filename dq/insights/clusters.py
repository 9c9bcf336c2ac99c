"""Topic clusters of a split: spherical k-means over the embeddings, c-TF-IDF keywords, a summary table.

Clusters are fitted on the training split (:func:`fit_clusters`) and other splits are assigned to
the same centroids (:func:`assign_clusters`), so a cluster id means the same topic in every split;
their keywords are in ``dq.insights.keywords``.
Cluster ids follow the k-means starting rows, which are chosen by content: the same data gets the
same numbers, and a retrain on slightly changed data keeps nearly all of them.

Scale: k-means trains on seeded samples of at most ``n_clusters x TRAIN_POINTS_PER_CLUSTER``
rows, so its cost does not grow with the split; assigning is one exact inner-product search
against the centroids.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import faiss
import numpy as np
import pandas as pd

from dq._util.embs import as_embs, f32
from dq._util.validate import (
    as_bools,
    as_class_indices,
    as_floats,
    as_non_negative_int,
    check_same_length,
    is_int,
)
from dq.config import UNLABELED
from dq.errors import ValidationError
from dq.insights.keywords import as_cluster_ids
from dq.scale import active as active_executor

#: Rows per block when clusters are assigned on an executor with several workers.
ASSIGN_BATCH = 65_536

#: Automatic cluster count: ``round(sqrt(n / AUTO_CLUSTERS_DIVISOR))`` clipped to the bounds below
#: (and never above n). About 10 clusters at 200 samples, 22 at 1,000, the maximum from 5,000 on.
AUTO_CLUSTERS_DIVISOR = 2
AUTO_CLUSTERS_MIN = 2
#: More clusters than this stop being readable as a list of topics in the console.
AUTO_CLUSTERS_MAX = 50
#: k-means runs on a small sample (this many rows per cluster) from k rows picked by content
#: (``_content_order``), never by position, then refines on a larger sample.
RESTART_POINTS_PER_CLUSTER = 64
KMEANS_ITERATIONS = 20
#: The refinement: at most this many sampled rows per cluster (faiss's default), a few iterations.
TRAIN_POINTS_PER_CLUSTER = 256
REFINE_ITERATIONS = 10
#: Centroids compared with at most this many rows per faiss call (bounds temporary memory).
ASSIGN_BATCH = 65_536
# Class indices are checked against n_classes; without one, any non-negative index is accepted.
_NO_CLASS_BOUND = int(np.iinfo(np.int64).max)
#: Columns of :func:`cluster_table`, in order; the optional ones appear only with their inputs.
TABLE_COLUMNS = (
    "cluster", "size", "share", "top_words", "avg_dep", "accuracy", "macro_f1", "top_label", "top_label_share",
)  # fmt: skip


@dataclass(frozen=True, eq=False)
class ClusterModel:
    """Spherical k-means fitted on one split.

    Attributes
    ----------
    centroids : (c, d) float32 array
        Unit-length cluster centres; row ``j`` is cluster ``j``.
    labels : (n,) int64 array
        Cluster of each fitted row, in ``0 .. c - 1``.
    """

    centroids: np.ndarray
    labels: np.ndarray

    @property
    def n_clusters(self) -> int:
        """Number of clusters ``c``."""
        return int(self.centroids.shape[0])


def auto_n_clusters(n: int) -> int:
    """The cluster count used when none is given: ``round(sqrt(n / 2))`` clipped to [2, 50], at most n.

    >>> [auto_n_clusters(n) for n in (1, 10, 200, 1_000, 100_000)]
    [1, 2, 10, 22, 50]
    """
    count = round((n / AUTO_CLUSTERS_DIVISOR) ** 0.5)
    return int(min(max(count, AUTO_CLUSTERS_MIN), AUTO_CLUSTERS_MAX, n))


def fit_clusters(embs: Any, *, n_clusters: int | None = None, seed: int = 0) -> ClusterModel:
    """Group rows of ``embs`` into topic clusters with spherical k-means (faiss).

    Parameters
    ----------
    embs : (n, d) float array
        Sentence embeddings, one row per sample (rows are L2-normalized on a copy if needed).
    n_clusters : int, optional
        How many clusters; ``None`` picks :func:`auto_n_clusters` of ``n``. Clusters left empty
        after the final assignment are dropped, so the model may hold fewer.
    seed : int
        Seed of the training sample and of the k-means starts: same inputs, same clusters.

    Returns
    -------
    ClusterModel
        Centroids and the cluster of every row. Numbers follow the starting rows (chosen by
        content, not position), so they stay the same for the same data and nearly the same when
        a few rows are added or removed.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> centres = np.eye(8, dtype=np.float32)[:2] * 10
    >>> embs = np.repeat(centres, 50, axis=0) + rng.normal(size=(100, 8)).astype(np.float32)
    >>> model = fit_clusters(embs, n_clusters=2, seed=0)
    >>> model.centroids.shape, np.bincount(model.labels).tolist()
    ((2, 8), [50, 50])
    """
    embs = as_embs(embs, param="embs")
    n = embs.shape[0]
    if n == 0:
        raise ValidationError("The 'embs' parameter must hold at least one row. Got 0 rows instead.")
    if n_clusters is None:
        n_clusters = auto_n_clusters(n)
    elif not is_int(n_clusters) or not 1 <= n_clusters <= n:
        raise ValidationError(
            f"The 'n_clusters' parameter must be None or an integer in [1, {n}] (the number of rows). "
            f"Got {n_clusters!r} instead."
        )
    return _compute_clusters(embs, int(n_clusters), as_non_negative_int(seed, param="seed"))


def assign_clusters(embs: Any, model: ClusterModel) -> np.ndarray:
    """The cluster of each row of ``embs``: its most cosine-similar centroid of ``model``.

    Parameters
    ----------
    embs : (m, d) float array
        Embeddings of any split, with the dimension the model was fitted on.
    model : ClusterModel
        From :func:`fit_clusters` (usually on the training split).

    Returns
    -------
    (m,) int64 array
        Cluster ids; on the fitted rows they equal ``model.labels``.

    Examples
    --------
    >>> model = ClusterModel(np.eye(2, dtype=np.float32), np.zeros(0, dtype=np.int64))
    >>> assign_clusters([[0.1, 0.9], [2.0, 0.5]], model).tolist()
    [1, 0]
    """
    if not isinstance(model, ClusterModel):
        raise ValidationError(
            f"The 'model' parameter must be a ClusterModel from fit_clusters. Got {type(model).__name__} instead."
        )
    embs = as_embs(embs, param="embs", dim=model.centroids.shape[1])
    centroids = np.ascontiguousarray(model.centroids, dtype=np.float32)
    executor = active_executor()
    if executor.workers <= 1:
        return _compute_assign(embs, centroids)
    # Row blocks assigned where the executor runs them (Ray / Dask workers), the centroids sent once.
    blocks = [embs[start : start + ASSIGN_BATCH] for start in range(0, len(embs), ASSIGN_BATCH)]
    parts = executor.map(assign_block, blocks, shared={"centroids": centroids})
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def assign_block(embs: np.ndarray, *, centroids: np.ndarray) -> np.ndarray:
    """The nearest centroid of each row of one block: the batch function every executor runs (dq.scale)."""
    return _compute_assign(embs, centroids)


def _content_order(embs: np.ndarray, seed: int) -> np.ndarray:
    """Rows in an order that looks random but follows each row's content, not its position.

    A permutation of positions changes completely when one row is added or removed (a retrain on
    fixed data), and so would the k-means training sample and every cluster. Ranking rows by a
    pseudo-random function of their values keeps the sample, and the clusters, nearly the same.
    """
    direction = np.random.default_rng(seed).standard_normal(size=embs.shape[1], dtype=np.float32)
    key = np.empty(embs.shape[0], dtype=np.float64)
    for start in range(0, embs.shape[0], ASSIGN_BATCH):  # float16 embeddings: a float32 block at a time
        key[start : start + ASSIGN_BATCH] = f32(embs[start : start + ASSIGN_BATCH]) @ direction
    key *= 1e4
    return np.argsort(key - np.floor(key), kind="stable")


def _compute_clusters(embs: np.ndarray, n_clusters: int, seed: int) -> ClusterModel:
    # Samples drawn here (not by faiss) keep training cost and determinism independent of n; the
    # restart sample is the head of the refinement sample.
    order = _content_order(embs, seed)
    train = embs[np.sort(order[: n_clusters * TRAIN_POINTS_PER_CLUSTER])]
    starts = embs[np.sort(order[: n_clusters * RESTART_POINTS_PER_CLUSTER])]
    # Started from the first rows in content order (not from faiss's draw over positions), so a few
    # rows more or less leave the start, and so the clusters and their numbers, nearly where they
    # were. (A best-of-eight over random starts found slightly better optima but, with near-equal
    # objectives, a different winner after a small edit: every cluster renumbered.)
    centroids = _kmeans(starts, n_clusters, seed, KMEANS_ITERATIONS, 1, embs[order[:n_clusters]])
    if train.shape[0] > starts.shape[0]:
        centroids = _kmeans(train, n_clusters, seed, REFINE_ITERATIONS, 1, centroids)
    labels = _compute_assign(embs, centroids)
    # Cluster j is the one grown from the j-th starting row (content order), so its number stays
    # when the data changes a little; clusters left empty are dropped and the rest close ranks.
    kept = np.flatnonzero(np.bincount(labels, minlength=n_clusters) > 0)
    new_id = np.full(n_clusters, -1, dtype=np.int64)
    new_id[kept] = np.arange(kept.size)
    return ClusterModel(centroids=np.ascontiguousarray(centroids[kept]), labels=new_id[labels])


def _kmeans(rows: np.ndarray, k: int, seed: int, iterations: int, restarts: int, init: np.ndarray | None) -> np.ndarray:
    kmeans = faiss.Kmeans(
        rows.shape[1], k, niter=iterations, nredo=restarts, seed=seed, spherical=True,
        max_points_per_centroid=TRAIN_POINTS_PER_CLUSTER, min_points_per_centroid=1, verbose=False,
    )  # fmt: skip
    kmeans.train(f32(rows), init_centroids=None if init is None else f32(init))
    return np.ascontiguousarray(kmeans.centroids, dtype=np.float32)


def _compute_assign(embs: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    index = faiss.IndexFlatIP(centroids.shape[1])
    index.add(centroids)
    out = np.empty(embs.shape[0], dtype=np.int64)
    for start in range(0, embs.shape[0], ASSIGN_BATCH):
        _, nearest = index.search(f32(embs[start : start + ASSIGN_BATCH]), 1)
        out[start : start + nearest.shape[0]] = nearest[:, 0]
    return out


# --- summary table -------------------------------------------------------------------------------


def cluster_table(
    clusters: Any,
    keywords: Mapping[int, Sequence[str]],
    *,
    dep: Any = None,
    is_correct: Any = None,
    labels: Any = None,
    preds: Any = None,
    n_classes: int | None = None,
) -> pd.DataFrame:
    """One row per cluster: size, keywords and, when given, DEP and model quality inside it.

    Parameters
    ----------
    clusters : (n,) int array
        Cluster id of each sample.
    keywords : dict of int -> list of str
        From :func:`dq.insights.keywords.cluster_keywords`; a cluster without an entry gets an empty list.
    dep : (n,) float array, optional
        DEP of each sample (higher = more likely a data error): adds ``avg_dep``.
    is_correct : (n,) bool array, optional
        Whether the model got each sample right: ``accuracy`` is its mean. Without it, accuracy
        comes from ``labels == preds`` when both are given.
    labels, preds : (n,) int arrays, optional
        Class indices; ``-1`` in ``labels`` marks an unlabeled sample, left out of the metrics.
        ``labels`` adds ``top_label`` and ``top_label_share`` (of the labeled samples); both add
        ``accuracy`` and ``macro_f1`` (over the classes present in the cluster, zero division = 0).
    n_classes : int, optional
        Number of classes; defaults to one more than the largest index seen.

    Returns
    -------
    pandas.DataFrame
        Columns ``cluster, size, share, top_words`` then the optional ones, sorted by cluster id.
        A metric of a cluster without labeled samples is NaN (``top_label`` is -1).

    Examples
    --------
    >>> table = cluster_table([0, 0, 1], {0: ["refund"], 1: ["card"]}, labels=[2, 2, 0], preds=[2, 1, 0])
    >>> table[["cluster", "size", "accuracy", "macro_f1", "top_label"]].to_dict("records")[0]
    {'cluster': 0, 'size': 2, 'accuracy': 0.5, 'macro_f1': 0.3333333333333333, 'top_label': 2}
    """
    clusters = as_cluster_ids(clusters)
    n = clusters.size
    if not isinstance(keywords, Mapping):
        raise ValidationError(
            "The 'keywords' parameter must be a dict of cluster id -> list of words. "
            f"Got {type(keywords).__name__} instead."
        )
    dep_arr = None if dep is None else as_floats(dep, param="dep", n=n, other="clusters")
    correct = None if is_correct is None else as_bools(is_correct, param="is_correct", n=n, other="clusters")
    if n_classes is not None and (not is_int(n_classes) or n_classes < 1):
        raise ValidationError(
            f"The 'n_classes' parameter must be None or a positive integer. Got {n_classes!r} instead."
        )
    if preds is not None and labels is None:
        raise ValidationError("The 'preds' parameter needs 'labels' too. Got preds without labels instead.")
    bound = _NO_CLASS_BOUND if n_classes is None else int(n_classes)
    label_arr = pred_arr = None
    if labels is not None:
        label_arr = as_class_indices(labels, param="labels", n_classes=bound, allow_unlabeled=True)
        check_same_length("labels", label_arr, n, other="clusters")
    if preds is not None:
        pred_arr = as_class_indices(preds, param="preds", n_classes=bound, allow_unlabeled=False)
        check_same_length("preds", pred_arr, n, other="clusters")
    if n_classes is None:
        seen = [int(a.max()) for a in (label_arr, pred_arr) if a is not None and a.size]
        n_classes = 1 + max(seen, default=0)
    return _compute_table(clusters, keywords, dep_arr, correct, label_arr, pred_arr, int(n_classes))


def _compute_table(
    clusters: np.ndarray,
    keywords: Mapping[int, Sequence[str]],
    dep: np.ndarray | None,
    is_correct: np.ndarray | None,
    labels: np.ndarray | None,
    preds: np.ndarray | None,
    n_classes: int,
) -> pd.DataFrame:
    present, pos, sizes = np.unique(clusters, return_inverse=True, return_counts=True)
    n, c = clusters.size, present.size
    table: dict[str, Any] = {
        "cluster": present.astype(np.int64),
        "size": sizes.astype(np.int64),
        "share": sizes / max(n, 1),
        "top_words": [list(keywords.get(int(k), [])) for k in present],
    }
    if dep is not None:
        table["avg_dep"] = np.bincount(pos, weights=dep, minlength=c) / sizes
    if is_correct is not None:
        table["accuracy"] = np.bincount(pos, weights=is_correct, minlength=c) / sizes
    if labels is not None:
        keep = labels != UNLABELED
        pos_l, lab = pos[keep], labels[keep]
        n_labeled = np.bincount(pos_l, minlength=c)
        by_label = np.bincount(pos_l * n_classes + lab, minlength=c * n_classes).reshape(c, n_classes)
        with np.errstate(divide="ignore", invalid="ignore"):
            table["top_label"] = np.where(n_labeled > 0, by_label.argmax(axis=1), UNLABELED).astype(np.int64)
            table["top_label_share"] = np.where(n_labeled > 0, by_label.max(axis=1) / n_labeled, np.nan)
        if preds is not None:
            quality = _cluster_quality(pos_l, lab, preds[keep], by_label, n_labeled, n_classes)
            table["macro_f1"] = quality["macro_f1"]
            if is_correct is None:
                table["accuracy"] = quality["accuracy"]
    return pd.DataFrame(table)[[col for col in TABLE_COLUMNS if col in table]]


def _cluster_quality(
    pos: np.ndarray,
    labels: np.ndarray,
    preds: np.ndarray,
    by_label: np.ndarray,
    n_labeled: np.ndarray,
    n_classes: int,
) -> dict[str, np.ndarray]:
    """Accuracy and macro-F1 per cluster from (cluster, class) bincounts of the labeled samples."""
    c = by_label.shape[0]
    hit = labels == preds
    by_pred = np.bincount(pos * n_classes + preds, minlength=c * n_classes).reshape(c, n_classes)
    tp = np.bincount(pos[hit] * n_classes + labels[hit], minlength=c * n_classes).reshape(c, n_classes)
    denom = by_label + by_pred  # = 2TP + FP + FN; > 0 exactly for the classes present in the cluster
    present = denom > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        f1 = np.where(present, 2.0 * tp / denom, 0.0)
        return {
            "macro_f1": np.where(n_labeled > 0, f1.sum(axis=1) / present.sum(axis=1), np.nan),
            "accuracy": np.where(n_labeled > 0, tp.sum(axis=1) / n_labeled, np.nan),
        }
