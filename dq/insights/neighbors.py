"""Nearest neighbors by cosine similarity, and the label mix around each sample.

Embeddings are searched as L2-normalized float32 rows, so inner product is cosine similarity.
Up to ``settings.exact_knn_max`` rows the search is exact (faiss ``IndexFlatIP``); above it an
IVF index with ``settings.ivf_nprobe`` lists probed (``dq.insights.ivf``). Queries go in batches,
so a search holds one batch of candidates beyond its output.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal, cast

import numpy as np

from dq._util.embs import as_embs, f32
from dq._util.validate import as_class_indices, as_positive_int
from dq.config import UNLABELED
from dq.errors import ValidationError
from dq.insights import ivf
from dq.insights.ivf import NeighborIndex
from dq.insights.settings import InsightSettings
from dq.scale import active as active_executor

#: Queries per faiss call: bounds the temporary memory of a search to about ``batch x (k + 1)``
#: results plus faiss's buffers.
#: Cells (rows x classes) of one batch of the neighbors' label distribution.
LABEL_CELLS_PER_BATCH = 1 << 22
SEARCH_BATCH = 16_384
#: Queries per IVF batch: more queries per batch means fewer, larger matrix products per list;
#: the candidates of a batch take ``batch x nprobe x (k + 1) x 12`` bytes (140 MB at defaults).
IVF_SEARCH_BATCH = 131_072
#: ``weights="softmax"``: a neighbor 0.1 less similar than the nearest one counts e times less.
SOFTMAX_TEMPERATURE = 0.1
#: Rows of a float16 matrix converted to float32 at a time by :func:`knn_of_row`.
_ROW_BLOCK = 262_144

_WEIGHTS = ("similarity", "uniform", "softmax")


@dataclass(frozen=True, eq=False)
class Neighbors:
    """The ``k`` nearest neighbors of ``m`` queries.

    Attributes
    ----------
    sims : (m, k) float32 array
        Cosine similarity to each neighbor, in descending order along a row.
    idx : (m, k) int64 array
        Row of each neighbor in the searched embeddings (never the query itself when the
        queries were the embeddings).
    """

    sims: np.ndarray
    idx: np.ndarray

    @property
    def k(self) -> int:
        """Neighbors per query."""
        return int(self.idx.shape[1])


# --- public API -----------------------------------------------------------------------------------


def build_index(embs: Any, *, settings: InsightSettings = InsightSettings()) -> NeighborIndex:
    """Index ``embs`` for cosine search: exact up to ``settings.exact_knn_max`` rows, IVF above.

    Build once and pass it as ``index=`` to several :func:`knn` calls (a split against itself,
    validation and test against training) to train the IVF index only once.

    Parameters
    ----------
    embs : (n, d) array of float
        Embeddings; rows are L2-normalized here when they are not already.
    settings : InsightSettings
        ``exact_knn_max`` picks the index, ``seed`` fixes the IVF training sample and k-means.

    Returns
    -------
    NeighborIndex

    Examples
    --------
    >>> build_index(np.eye(3, dtype=np.float32)).exact
    True
    """
    embs = as_embs(embs, param="embs")
    _check_settings(settings)
    return ivf.build(embs, settings)


def knn(
    embs: Any,
    *,
    k: int,
    queries: Any = None,
    settings: InsightSettings = InsightSettings(),
    index: NeighborIndex | None = None,
) -> Neighbors:
    """The ``k`` most cosine-similar rows of ``embs`` for each query.

    With ``queries=None`` each row of ``embs`` is a query and its own row is excluded by index
    (not by similarity, so an exact duplicate of it is still found). ``k`` is clipped to
    ``n - 1`` in that case, and to ``n`` when ``queries`` are given, so a tiny split yields fewer
    columns rather than padding. Exact search up to ``settings.exact_knn_max`` rows, IVF above
    (``nlist`` about ``4 * sqrt(n)``, ``settings.ivf_nprobe`` lists probed); deterministic for a
    given ``settings.seed``.

    Parameters
    ----------
    embs : (n, d) array of float, or None
        The searched embeddings (normalized here when they are not already); None when ``index``
        is given with ``queries`` (the index holds the searched rows).
    k : int
        Neighbors per query, at least 1.
    queries : (m, d) array of float, optional
        Other samples (validation, test) to look up among ``embs``.
    settings : InsightSettings
        ``exact_knn_max``, ``ivf_nprobe`` and ``seed`` are used.
    index : NeighborIndex, optional
        An index of these ``embs`` from :func:`build_index` (exact or IVF as decided when it
        was built); built here when omitted.

    Returns
    -------
    Neighbors
        ``sims`` (m, k') float32 descending and ``idx`` (m, k') int64, ``k' = min(k, n - 1)``
        (or ``min(k, n)`` with ``queries``).

    Examples
    --------
    >>> embs = np.array([[1, 0], [1, 0], [0.6, 0.8], [0, 1]], dtype=np.float32)
    >>> nbrs = knn(embs, k=1)
    >>> nbrs.idx.ravel().tolist(), nbrs.sims.ravel().astype(float).round(2).tolist()
    ([1, 0, 3, 2], [1.0, 1.0, 0.8, 0.8])
    """
    if embs is None and (queries is None or not isinstance(index, NeighborIndex)):
        raise ValidationError(
            "The 'embs' parameter may be None only with 'queries' and an 'index' from build_index. "
            f"Got queries={'None' if queries is None else 'given'} and index={type(index).__name__} instead."
        )
    embs = None if embs is None else as_embs(embs, param="embs")
    as_positive_int(k, param="k")
    _check_settings(settings)
    shape = (index.n, index.dim) if embs is None and index is not None else cast(np.ndarray, embs).shape
    if queries is not None:
        queries = as_embs(queries, param="queries", dim=shape[1])
    if index is not None and (not isinstance(index, NeighborIndex) or (index.n, index.dim) != shape):
        got = (index.n, index.dim) if isinstance(index, NeighborIndex) else type(index).__name__
        raise ValidationError(
            f"The 'index' parameter must be a NeighborIndex built from 'embs' {shape}. Got {got} instead."
        )
    return _compute_knn(embs, int(k), queries, settings, index)


def knn_of_row(embs: np.ndarray, row: int, *, k: int) -> Neighbors:
    """The ``k`` rows of ``embs`` most cosine-similar to row ``row`` (itself excluded), exactly.

    One matrix-vector product (milliseconds at 100k rows), for looking up one sample at a time;
    ``embs`` must already be unit rows (:func:`dq._util.validate.as_embs`), float32 or float16.

    >>> embs = np.array([[1, 0], [0.6, 0.8], [0, 1]], dtype=np.float32)
    >>> knn_of_row(embs, 0, k=2).idx.tolist()
    [[1, 2]]
    """
    query = f32(embs[row : row + 1])[0]
    sims = np.empty(len(embs), dtype=np.float32)
    for start in range(0, len(embs), _ROW_BLOCK):  # float16 rows go to BLAS as float32 blocks
        sims[start : start + _ROW_BLOCK] = f32(embs[start : start + _ROW_BLOCK]) @ query
    sims[row] = -np.inf
    k = max(0, min(as_positive_int(k, param="k"), len(sims) - 1))
    top = np.argpartition(-sims, k - 1)[:k] if k else np.zeros(0, dtype=np.int64)
    order = top[np.argsort(-sims[top], kind="stable")]
    return Neighbors(sims=sims[order][None, :].astype(np.float32), idx=order[None, :].astype(np.int64))


def knn_label_distribution(
    nbrs: Neighbors,
    labels: Any,
    n_classes: int,
    *,
    weights: Literal["similarity", "uniform", "softmax"] = "similarity",
) -> np.ndarray:
    """The share of each query's neighbors carrying each label.

    With ``weights="similarity"`` a neighbor counts its cosine similarity (negative clipped to
    0); with ``"uniform"`` each counts 1; with ``"softmax"`` it counts
    ``exp(sim / SOFTMAX_TEMPERATURE)``. Unlabeled neighbors (``-1``) count 0. A row with no
    weight at all becomes uniform (``1 / n_classes``), so every row sums to 1.

    Parameters
    ----------
    nbrs : Neighbors
        From :func:`knn`; ``nbrs.idx`` indexes ``labels``.
    labels : (n,) int array
        Class index of each searched row, ``-1`` for unlabeled.
    n_classes : int
        Number of classes (columns of the result).
    weights : {"similarity", "uniform", "softmax"}

    Returns
    -------
    (m, n_classes) float32 array

    Examples
    --------
    >>> nbrs = Neighbors(np.array([[0.9, 0.3]], np.float32), np.array([[0, 1]]))
    >>> knn_label_distribution(nbrs, [1, 0], 2).astype(float).round(2).tolist()
    [[0.25, 0.75]]
    """
    check_neighbors(nbrs, param="nbrs")
    as_positive_int(n_classes, param="n_classes")
    labels = as_class_indices(labels, param="labels", n_classes=int(n_classes), allow_unlabeled=True)
    if nbrs.idx.size and int(nbrs.idx.max()) >= labels.size:
        raise ValidationError(
            f"The 'labels' parameter must have one entry per searched row (at least "
            f"{int(nbrs.idx.max()) + 1} for these neighbors). Got {labels.size} instead."
        )
    if weights not in _WEIGHTS:
        raise ValidationError(f"The 'weights' parameter must be one of {_WEIGHTS}. Got {weights!r} instead.")
    return _compute_label_distribution(nbrs, labels, int(n_classes), weights)


# --- validation (check_neighbors is shared with dq.insights.duplicates and dq.insights.outliers) ---


def check_neighbors(nbrs: Any, *, param: str, n_rows: int | None = None) -> None:
    """Refuse anything but a :class:`Neighbors` (with ``n_rows`` rows when given)."""
    if not isinstance(nbrs, Neighbors):
        raise ValidationError(
            f"The '{param}' parameter must be a Neighbors from dq.insights.neighbors.knn. "
            f"Got {type(nbrs).__name__} instead."
        )
    if nbrs.sims.ndim != 2 or nbrs.sims.shape != nbrs.idx.shape:
        raise ValidationError(
            f"The '{param}' parameter must have sims and idx of one (m, k) shape. "
            f"Got {nbrs.sims.shape} and {nbrs.idx.shape} instead."
        )
    if n_rows is not None and nbrs.sims.shape[0] != n_rows:
        raise ValidationError(
            f"The '{param}' parameter must have one row per sample ({n_rows}). Got {nbrs.sims.shape[0]} rows instead."
        )
    if nbrs.idx.size and int(nbrs.idx.min()) < 0:
        raise ValidationError(
            f"The '{param}' parameter must hold only found neighbors (idx >= 0). Got idx {int(nbrs.idx.min())} instead."
        )


def _check_settings(settings: Any) -> None:
    if not isinstance(settings, InsightSettings):
        raise ValidationError(
            f"The 'settings' parameter must be an InsightSettings. Got {type(settings).__name__} instead."
        )
    as_positive_int(settings.exact_knn_max, param="settings.exact_knn_max")
    as_positive_int(settings.ivf_nprobe, param="settings.ivf_nprobe")


# --- computation ----------------------------------------------------------------------------------


def _compute_knn(
    embs: np.ndarray | None,
    k: int,
    queries: np.ndarray | None,
    settings: InsightSettings,
    index: NeighborIndex | None,
) -> Neighbors:
    n = index.n if index is not None else cast(np.ndarray, embs).shape[0]
    self_search = queries is None
    points = cast(np.ndarray, embs if queries is None else queries)
    m = points.shape[0]
    k = max(0, min(k, n - 1 if self_search else n))
    sims = np.zeros((m, k), dtype=np.float32)
    idx = np.zeros((m, k), dtype=np.int64)
    if k == 0 or m == 0:
        return Neighbors(sims=sims, idx=idx)
    if index is None:
        index = ivf.build(cast(np.ndarray, embs), settings)
    k_search = k + 1 if self_search else k
    batch = SEARCH_BATCH if index.exact else IVF_SEARCH_BATCH
    executor = active_executor()
    # Query blocks, searched where the executor runs them (here, or on Ray / Dask workers with the
    # index sent to each once); a wave holds a few blocks per worker so results stream back in order.
    starts = list(range(0, m, batch))
    wave = max(1, executor.workers) * 4
    shared = {"index": index, "k_search": k_search, "nprobe": settings.ivf_nprobe, "self_search": self_search}
    for first in range(0, len(starts), wave):
        blocks = [(start, points[start : min(m, start + batch)]) for start in starts[first : first + wave]]
        # IVF blocks multiply with one BLAS thread each: here they go on a thread per core (an exact
        # index's faiss search already uses every core).
        found = executor.map(search_block, blocks, shared=shared, threads=not index.exact)
        for (start, block), (d, i) in zip(blocks, found):
            sims[start : start + len(block)], idx[start : start + len(block)] = d, i
    np.clip(sims, -1.0, 1.0, out=sims)  # float32 rounding can put a duplicate at 1.0000001
    return Neighbors(sims=sims, idx=idx)


def search_block(
    block: tuple[int, np.ndarray], *, index: NeighborIndex, k_search: int, nprobe: int, self_search: bool
) -> tuple[np.ndarray, np.ndarray]:
    """The neighbors of one block of queries (``(first row, queries)``) in ``index``: the batch function
    every executor runs (dq.scale)."""
    start, points = block
    points = f32(points)  # float16 embeddings: one float32 block at a time
    stop = start + len(points)
    if index.ivf is None:
        d, i = index.flat.search(points, k_search)
    else:
        rows = slice(start, stop) if self_search else None
        d, i = ivf.ivf_search(index.ivf, points, k_search, nprobe, self_rows=rows)
    if self_search:
        d, i = _drop_self(d, i, np.arange(start, stop))
    return d, i


def _drop_self(d: np.ndarray, i: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Remove each query's own row; where it was not returned (ties among exact duplicates,
    IVF), remove the least similar result instead, so every row keeps ``k`` neighbors."""
    drop = i == rows[:, None]
    drop[~drop.any(axis=1), -1] = True
    keep = ~drop
    shape = (len(rows), i.shape[1] - 1)
    return d[keep].reshape(shape), i[keep].reshape(shape)


def _compute_label_distribution(nbrs: Neighbors, labels: np.ndarray, n_classes: int, weights: str) -> np.ndarray:
    m = nbrs.idx.shape[0]
    out = np.empty((m, n_classes), dtype=np.float32)
    # Rows a batch: its float64 (rows, classes) temporaries stay a few tens of MB at 10,000 classes.
    step = max(1, min(SEARCH_BATCH, LABEL_CELLS_PER_BATCH // n_classes))
    starts = list(range(0, m, step))
    blocks = [(nbrs.sims[start : start + step], nbrs.idx[start : start + step]) for start in starts]
    executor = active_executor()
    shares: Iterator[np.ndarray]
    if executor.workers <= 1:  # one block at a time in memory
        shares = (label_block(b, labels=labels, n_classes=n_classes, weights=weights) for b in blocks)
    else:  # on the workers, the labels sent once
        shared = {"labels": labels, "n_classes": n_classes, "weights": weights}
        shares = iter(executor.map(label_block, blocks, shared=shared))
    for start, share in zip(starts, shares):
        out[start : start + len(share)] = share
    return out


def label_block(
    block: tuple[np.ndarray, np.ndarray], *, labels: np.ndarray, n_classes: int, weights: str
) -> np.ndarray:
    """The label shares of one block of neighbour rows (``(sims, idx)``): the batch function every
    executor runs (dq.scale)."""
    block_sims, block_idx = block
    neighbor_labels = labels[block_idx]
    sims = block_sims.astype(np.float64)
    if weights == "similarity":
        w = np.clip(sims, 0.0, None)
    elif weights == "softmax":  # shifted by the row's best: the same shares, no overflow
        w = np.exp((sims - sims.max(axis=1, keepdims=True, initial=0.0)) / SOFTMAX_TEMPERATURE)
    else:
        w = np.ones(neighbor_labels.shape, dtype=np.float64)
    unlabeled = neighbor_labels == UNLABELED
    w[unlabeled] = 0.0
    n = len(block_idx)
    cells = np.arange(n)[:, None] * n_classes + np.where(unlabeled, 0, neighbor_labels)
    mass = np.bincount(cells.ravel(), weights=w.ravel(), minlength=n * n_classes).reshape(n, n_classes)
    totals = mass.sum(axis=1, keepdims=True)
    share = np.full(mass.shape, 1.0 / n_classes)
    np.divide(mass, totals, out=share, where=totals > 0)
    return share
