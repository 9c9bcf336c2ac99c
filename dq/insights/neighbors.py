"""Nearest neighbours by cosine similarity, and the label mix around each sample.

Embeddings are searched as L2-normalised float32 rows, so inner product is cosine similarity.
Up to ``settings.exact_knn_max`` rows the search is exact (faiss ``IndexFlatIP``). Above it, an
IVF index: faiss k-means on a seeded sample makes about ``4 * sqrt(n)`` lists, each query scans
the ``settings.ivf_nprobe`` lists nearest to it. The lists are scanned here one at a time, each
meeting all the queries that probe it in one matrix product: the same neighbours as faiss's
``IndexIVFFlat``, which streams each list once per query and so is memory-bound (4x the CPU
time at 100k x 384, measured). Queries go in batches, so a search holds one batch of candidates
beyond its output; the index holds a copy of the embeddings (1.5 GB at 1M x 384).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import faiss
import numpy as np
from threadpoolctl import threadpool_limits

from dq.errors import ValidationError
from dq.insights.metrics import UNLABELLED, as_class_indices
from dq.insights.settings import InsightSettings
from dq.validate import examples

#: Queries per faiss call (and rows per pass when checking or normalising embeddings): bounds
#: the temporary memory of a search to about ``batch x (k + 1)`` results plus faiss's buffers.
SEARCH_BATCH = 16_384
#: Queries per IVF batch: more queries per batch means fewer, larger matrix products per list;
#: the candidates of a batch take ``batch x nprobe x (k + 1) x 12`` bytes (140 MB at defaults).
IVF_SEARCH_BATCH = 131_072
#: Queries compared with every row at once when their probed lists held too few rows.
BRUTE_FORCE_BATCH = 64
#: IVF lists per square root of the number of indexed rows (faiss's rule of thumb is 4 to 16).
IVF_LISTS_PER_SQRT_N = 4
#: IVF training: k-means on at most this many sampled points per list, for this many iterations.
#: Faiss's defaults (39-256 points, 10 iterations) buy little here: on BANKING77 (MiniLM, IVF
#: forced) recall@10 was 0.983 with 16 / 5 against 0.988 with 40 / 10, at half the build time.
IVF_TRAIN_PER_LIST = 16
IVF_KMEANS_ITERATIONS = 5
#: ``weights="softmax"``: a neighbour 0.1 less similar than the nearest one counts e times less.
SOFTMAX_TEMPERATURE = 0.1
#: A list's (queries x rows) block at least this large is searched with faiss.knn (top-k kept
#: while multiplying) instead of a matmul and argpartition.
FAISS_BLOCK_MIN = 4_000_000
#: A row whose L2 norm differs from 1 by more than this is renormalised (on a copy).
NORM_TOLERANCE = 1e-3

_WEIGHTS = ("similarity", "uniform", "softmax")


@dataclass(frozen=True, eq=False)
class Neighbors:
    """The ``k`` nearest neighbours of ``m`` queries.

    Attributes
    ----------
    sims : (m, k) float32 array
        Cosine similarity to each neighbour, in descending order along a row.
    idx : (m, k) int64 array
        Row of each neighbour in the searched embeddings (never the query itself when the
        queries were the embeddings).
    """

    sims: np.ndarray
    idx: np.ndarray

    @property
    def k(self) -> int:
        """Neighbours per query."""
        return int(self.idx.shape[1])


@dataclass(frozen=True, eq=False)
class NeighborIndex:
    """Normalised embeddings prepared for cosine search, reusable across :func:`knn` calls.

    Exact: ``flat``, a faiss ``IndexFlatIP``. IVF: ``centroids`` (a faiss ``IndexFlatIP`` of the
    lists' centroids); list ``j`` holds rows ``list_rows[list_starts[j]:list_starts[j + 1]]`` of
    ``embs``, whose vectors are copied, list after list, into ``list_embs``; ``self_probes``
    (n, nprobe) are the lists each indexed row probes as a query, found while indexing.
    """

    n: int
    dim: int
    flat: Any = None
    centroids: Any = None
    list_starts: np.ndarray | None = None
    list_rows: np.ndarray | None = None
    list_embs: np.ndarray | None = None
    self_probes: np.ndarray | None = None

    @property
    def exact(self) -> bool:
        """Whether searches are exact."""
        return self.flat is not None


# --- public API -----------------------------------------------------------------------------------


def build_index(embs: Any, *, settings: InsightSettings = InsightSettings()) -> NeighborIndex:
    """Index ``embs`` for cosine search: exact up to ``settings.exact_knn_max`` rows, IVF above.

    Build once and pass it as ``index=`` to several :func:`knn` calls (a split against itself,
    validation and test against training) to train the IVF index only once.

    Parameters
    ----------
    embs : (n, d) array of float
        Embeddings; rows are L2-normalised here when they are not already.
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
    return _build_index(embs, settings)


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
    embs : (n, d) array of float
        The searched embeddings (normalised here when they are not already).
    k : int
        Neighbours per query, at least 1.
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
    embs = as_embs(embs, param="embs")
    _check_positive_int("k", k)
    _check_settings(settings)
    if queries is not None:
        queries = as_embs(queries, param="queries", dim=embs.shape[1])
    if index is not None and (not isinstance(index, NeighborIndex) or (index.n, index.dim) != embs.shape):
        got = (index.n, index.dim) if isinstance(index, NeighborIndex) else type(index).__name__
        raise ValidationError(
            f"The 'index' parameter must be a NeighborIndex built from 'embs' {embs.shape}. "
            f"Got {got} instead."
        )
    return _compute_knn(embs, int(k), queries, settings, index)


def knn_label_distribution(
    nbrs: Neighbors,
    labels: Any,
    n_classes: int,
    *,
    weights: Literal["similarity", "uniform", "softmax"] = "similarity",
) -> np.ndarray:
    """The share of each query's neighbours carrying each label.

    With ``weights="similarity"`` a neighbour counts its cosine similarity (negative clipped to
    0); with ``"uniform"`` each counts 1; with ``"softmax"`` it counts
    ``exp(sim / SOFTMAX_TEMPERATURE)``. Unlabelled neighbours (``-1``) count 0. A row with no
    weight at all becomes uniform (``1 / n_classes``), so every row sums to 1.

    Parameters
    ----------
    nbrs : Neighbors
        From :func:`knn`; ``nbrs.idx`` indexes ``labels``.
    labels : (n,) int array
        Class index of each searched row, ``-1`` for unlabelled.
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
    _check_positive_int("n_classes", n_classes)
    labels = as_class_indices(labels, param="labels", n_classes=int(n_classes), allow_unlabelled=True)
    if nbrs.idx.size and int(nbrs.idx.max()) >= labels.size:
        raise ValidationError(
            f"The 'labels' parameter must have one entry per searched row (at least "
            f"{int(nbrs.idx.max()) + 1} for these neighbours). Got {labels.size} instead."
        )
    if weights not in _WEIGHTS:
        raise ValidationError(
            f"The 'weights' parameter must be one of {_WEIGHTS}. Got {weights!r} instead."
        )
    return _compute_label_distribution(nbrs, labels, int(n_classes), weights)


# --- validation (shared with dq.insights.duplicates and dq.insights.outliers) ----------------------


def as_embs(value: Any, *, param: str, dim: int | None = None) -> np.ndarray:
    """Return ``value`` as C-contiguous float32 rows of unit length, copying only when needed.

    Zero rows stay zero (similar to nothing). Refuses non-2-D, non-numeric and non-finite input.

    >>> as_embs([[3.0, 4.0]], param="embs").astype(float).round(2).tolist()
    [[0.6, 0.8]]
    """
    try:
        given = np.asarray(value)
    except (TypeError, ValueError):
        given = np.asarray(None)
    arr = given
    if arr.dtype.kind not in "fiu" or arr.ndim != 2 or (dim is not None and arr.shape[1] != dim):
        want = f"(n, {dim})" if dim is not None else "(n, d)"
        raise ValidationError(
            f"The '{param}' parameter must be a 2-D numeric array of shape {want}. "
            f"Got {arr.dtype} with shape {arr.shape} instead."
        )
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    norms = np.empty(arr.shape[0], dtype=np.float32)
    for start in range(0, arr.shape[0], SEARCH_BATCH):
        block = arr[start : start + SEARCH_BATCH]
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
    off = (np.abs(norms - 1) > NORM_TOLERANCE) & (norms > 0)
    if off.any():
        if np.may_share_memory(arr, given):
            arr = arr.copy()  # never normalise the caller's array in place
        rows = np.flatnonzero(off)
        for start in range(0, rows.size, SEARCH_BATCH):
            sel = rows[start : start + SEARCH_BATCH]
            arr[sel] = arr[sel] / norms[sel, None]
    return arr


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
            f"The '{param}' parameter must have one row per sample ({n_rows}). "
            f"Got {nbrs.sims.shape[0]} rows instead."
        )
    if nbrs.idx.size and int(nbrs.idx.min()) < 0:
        raise ValidationError(
            f"The '{param}' parameter must hold only found neighbours (idx >= 0). "
            f"Got idx {int(nbrs.idx.min())} instead."
        )


def _check_positive_int(param: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValidationError(f"The '{param}' parameter must be a positive integer. Got {value!r} instead.")


def _check_settings(settings: Any) -> None:
    if not isinstance(settings, InsightSettings):
        raise ValidationError(
            f"The 'settings' parameter must be an InsightSettings. Got {type(settings).__name__} instead."
        )
    _check_positive_int("settings.exact_knn_max", settings.exact_knn_max)
    _check_positive_int("settings.ivf_nprobe", settings.ivf_nprobe)


# --- computation ----------------------------------------------------------------------------------


def _build_index(embs: np.ndarray, settings: InsightSettings) -> NeighborIndex:
    n, dim = embs.shape
    if n <= settings.exact_knn_max:
        flat = faiss.IndexFlatIP(dim)
        flat.add(embs)
        return NeighborIndex(n=n, dim=dim, flat=flat)
    n_lists = min(n, round(IVF_LISTS_PER_SQRT_N * math.sqrt(n)))
    n_train = min(n, IVF_TRAIN_PER_LIST * n_lists)
    sample = np.sort(np.random.default_rng(settings.seed).choice(n, size=n_train, replace=False))
    kmeans = faiss.Kmeans(
        dim,
        n_lists,
        niter=IVF_KMEANS_ITERATIONS,
        seed=settings.seed,
        spherical=True,  # centroids stay on the unit sphere, like the data
        min_points_per_centroid=1,  # a small sample is deliberate, not worth a warning
    )
    kmeans.train(embs[sample])
    centroids = faiss.IndexFlatIP(dim)
    centroids.add(kmeans.centroids)
    # Every row is a query of the split's own search: its probes come with its list for free.
    self_probes = _probe(centroids, embs, min(settings.ivf_nprobe, n_lists))
    home_list = self_probes[:, 0]
    list_rows = np.argsort(home_list, kind="stable")
    list_starts = np.zeros(n_lists + 1, dtype=np.int64)
    np.cumsum(np.bincount(home_list, minlength=n_lists), out=list_starts[1:])
    return NeighborIndex(
        n=n,
        dim=dim,
        centroids=centroids,
        list_starts=list_starts,
        list_rows=list_rows,
        list_embs=embs[list_rows],
        self_probes=self_probes,
    )


def _compute_knn(
    embs: np.ndarray,
    k: int,
    queries: np.ndarray | None,
    settings: InsightSettings,
    index: NeighborIndex | None,
) -> Neighbors:
    n = embs.shape[0]
    self_search = queries is None
    points = embs if self_search else queries
    m = points.shape[0]
    k = max(0, min(k, n - 1 if self_search else n))
    sims = np.zeros((m, k), dtype=np.float32)
    idx = np.zeros((m, k), dtype=np.int64)
    if k == 0 or m == 0:
        return Neighbors(sims=sims, idx=idx)
    index = index if index is not None else _build_index(embs, settings)
    k_search = k + 1 if self_search else k
    batch = SEARCH_BATCH if index.exact else IVF_SEARCH_BATCH
    for start in range(0, m, batch):
        stop = min(m, start + batch)
        if index.exact:
            d, i = index.flat.search(points[start:stop], k_search)
        else:
            d, i = _ivf_search(index, points[start:stop], k_search, settings.ivf_nprobe,
                               self_rows=slice(start, stop) if self_search else None)
        if self_search:
            d, i = _drop_self(d, i, np.arange(start, stop))
        sims[start:stop], idx[start:stop] = d, i
    np.clip(sims, -1.0, 1.0, out=sims)  # float32 rounding can put a duplicate at 1.0000001
    return Neighbors(sims=sims, idx=idx)


def _probe(centroids: Any, points: np.ndarray, nprobe: int) -> np.ndarray:
    """The ``nprobe`` lists whose centroids are most similar to each point, best first."""
    probes = np.empty((points.shape[0], nprobe), dtype=np.int32)
    for start in range(0, points.shape[0], SEARCH_BATCH):
        block = points[start : start + SEARCH_BATCH]
        _, probes[start : start + len(block)] = centroids.search(block, nprobe)
    return probes


def _ivf_search(
    index: NeighborIndex, points: np.ndarray, k: int, nprobe: int, *, self_rows: slice | None
) -> tuple[np.ndarray, np.ndarray]:
    """IVF search list by list (see the module docstring)."""
    n_lists = index.list_starts.size - 1
    nprobe = min(nprobe, n_lists)
    if self_rows is not None and index.self_probes.shape[1] == nprobe:
        probes = index.self_probes[self_rows]
    else:
        probes = _probe(index.centroids, points, nprobe)
    cand_sims = np.full((points.shape[0], nprobe * k), -np.inf, dtype=np.float32)
    cand_idx = np.full((points.shape[0], nprobe * k), -1, dtype=np.int64)
    pairs_by_list = np.argsort(probes.ravel(), kind="stable")
    pair_starts = np.zeros(n_lists + 1, dtype=np.int64)
    np.cumsum(np.bincount(probes.ravel(), minlength=n_lists), out=pair_starts[1:])
    columns = np.arange(k)
    lists = np.flatnonzero((np.diff(pair_starts) > 0) & (np.diff(index.list_starts) > 0))
    # Many small products, one BLAS thread: 2 threads gained 20% on an idle 2-core machine but
    # were 10x slower on a busy one (threads spinning for a core); one thread is predictable.
    with threadpool_limits(limits=1, user_api="blas"):
        for j in lists:
            lo, hi = index.list_starts[j], index.list_starts[j + 1]
            rows, slots = np.divmod(pairs_by_list[pair_starts[j] : pair_starts[j + 1]], nprobe)
            if (hi - lo) * len(rows) >= FAISS_BLOCK_MIN and hi - lo > k:
                # Large blocks: faiss keeps the best k while it multiplies, never materialising
                # the (queries x rows) block; 5-8x faster than matmul + argpartition there.
                block, best = faiss.knn(np.ascontiguousarray(points[rows]), index.list_embs[lo:hi], k,
                                        metric=faiss.METRIC_INNER_PRODUCT)
            elif hi - lo > k:
                block = points[rows] @ index.list_embs[lo:hi].T
                best = np.argpartition(block, -k, axis=1)[:, -k:]
                block = np.take_along_axis(block, best, axis=1)
            else:
                block = points[rows] @ index.list_embs[lo:hi].T
                best = np.broadcast_to(np.arange(block.shape[1]), block.shape)
            # Each (query, probe) pair owns k cells of its query's candidates.
            cells = slots[:, None] * k + columns[: block.shape[1]]
            cand_sims[rows[:, None], cells] = block
            cand_idx[rows[:, None], cells] = index.list_rows[lo + best]
    d, i = _best(cand_sims, cand_idx, k)
    short = np.flatnonzero((i < 0).any(axis=1))
    if short.size:
        # The probed lists held fewer than k rows between them (tiny or lopsided lists).
        d[short], i[short] = _brute_force(index, points[short], k)
    return d, i


def _best(sims: np.ndarray, idx: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` largest of each row, in descending order."""
    if sims.shape[1] > k:
        top = np.argpartition(sims, -k, axis=1)[:, -k:]
        sims, idx = np.take_along_axis(sims, top, axis=1), np.take_along_axis(idx, top, axis=1)
    order = np.argsort(-sims, axis=1, kind="stable")
    return np.take_along_axis(sims, order, axis=1), np.take_along_axis(idx, order, axis=1)


def _brute_force(index: NeighborIndex, points: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    sims = np.empty((points.shape[0], k), dtype=np.float32)
    idx = np.empty((points.shape[0], k), dtype=np.int64)
    for start in range(0, points.shape[0], BRUTE_FORCE_BATCH):
        block = points[start : start + BRUTE_FORCE_BATCH] @ index.list_embs.T
        rows = np.broadcast_to(index.list_rows, block.shape)
        sims[start : start + BRUTE_FORCE_BATCH], idx[start : start + BRUTE_FORCE_BATCH] = _best(
            block, rows, k
        )
    return sims, idx


def _drop_self(d: np.ndarray, i: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Remove each query's own row; where it was not returned (ties among exact duplicates,
    IVF), remove the least similar result instead, so every row keeps ``k`` neighbours."""
    drop = i == rows[:, None]
    drop[~drop.any(axis=1), -1] = True
    keep = ~drop
    shape = (len(rows), i.shape[1] - 1)
    return d[keep].reshape(shape), i[keep].reshape(shape)


def _compute_label_distribution(
    nbrs: Neighbors, labels: np.ndarray, n_classes: int, weights: str
) -> np.ndarray:
    m = nbrs.idx.shape[0]
    out = np.empty((m, n_classes), dtype=np.float32)
    for start in range(0, m, SEARCH_BATCH):
        stop = min(m, start + SEARCH_BATCH)
        neighbour_labels = labels[nbrs.idx[start:stop]]
        sims = nbrs.sims[start:stop].astype(np.float64)
        if weights == "similarity":
            w = np.clip(sims, 0.0, None)
        elif weights == "softmax":  # shifted by the row's best: the same shares, no overflow
            w = np.exp((sims - sims.max(axis=1, keepdims=True, initial=0.0)) / SOFTMAX_TEMPERATURE)
        else:
            w = np.ones(neighbour_labels.shape, dtype=np.float64)
        unlabelled = neighbour_labels == UNLABELLED
        w[unlabelled] = 0.0
        rows = np.arange(stop - start)[:, None]
        cells = rows * n_classes + np.where(unlabelled, 0, neighbour_labels)
        mass = np.bincount(cells.ravel(), weights=w.ravel(), minlength=(stop - start) * n_classes)
        mass = mass.reshape(stop - start, n_classes)
        totals = mass.sum(axis=1, keepdims=True)
        share = np.full(mass.shape, 1.0 / n_classes)
        np.divide(mass, totals, out=share, where=totals > 0)
        out[start:stop] = share
    return out
