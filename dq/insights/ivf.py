"""The neighbor index: exact (faiss ``IndexFlatIP``) or IVF, and the IVF search list by list.

IVF: faiss k-means on a seeded sample makes about ``4 * sqrt(n)`` lists, each query scans the
``nprobe`` lists nearest to it. The lists are scanned here one at a time, each meeting all the
queries that probe it in one matrix product: the same neighbors as faiss's ``IndexIVFFlat``,
which streams each list once per query and so is memory-bound (4x the CPU time at 100k x 384,
measured). The index holds a copy of the embeddings in list order (1.5 GB at 1M x 384 float32;
float16 embeddings stay float16 there, and each list is multiplied in float32).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, cast

import faiss
import numpy as np
from threadpoolctl import threadpool_limits

from dq._util.embs import f32
from dq.insights.settings import InsightSettings

#: Rows per block when probing centroids (bounds the memory of a (rows x lists) block).
PROBE_BATCH = 16_384
#: IVF lists per sqrt(n) rows, and k-means training rows per list.
IVF_LISTS_PER_SQRT_N = 4
IVF_TRAIN_PER_LIST = 16
IVF_KMEANS_ITERATIONS = 5
#: Tight clusters (many near-identical texts, templated data) make k-means give a whole cluster to one
#: centroid: a list of 100,000 rows that every query of the cluster scans. When a list would hold
#: more than max(IVF_LIST_CAP_PER_MEAN x the mean list, IVF_LIST_CAP_MIN) rows (estimated on the
#: training sample), such lists are split at the median of their principal direction into parts of
#: about max(the mean list, IVF_PART_MIN) rows, and centroids no training row chose are dropped.
IVF_LIST_CAP_PER_MEAN = 2
IVF_LIST_CAP_MIN = 4_096
IVF_PART_MIN = 1_024
#: Power iterations for a list's principal direction.
_POWER_ITERATIONS = 8
#: (queries x rows) blocks at least this large are searched by faiss.knn, which keeps only the best k.
FAISS_BLOCK_MIN = 4_000_000
#: Queries per block of the brute-force fallback.
BRUTE_FORCE_BATCH = 64


@dataclass(frozen=True, eq=False)
class IVFLists:
    """The IVF lists of a :class:`NeighborIndex`.

    ``centroids`` is a faiss ``IndexFlatIP`` of the lists' centroids; list ``j`` holds rows
    ``list_rows[list_starts[j]:list_starts[j + 1]]`` of ``embs``, whose vectors are copied, list
    after list, into ``list_embs``; ``self_probes`` (n, nprobe) are the lists each indexed row
    probes as a query, found while indexing.
    """

    centroids: Any
    list_starts: np.ndarray
    list_rows: np.ndarray
    list_embs: np.ndarray
    self_probes: np.ndarray


@dataclass(frozen=True, eq=False)
class NeighborIndex:
    """Normalized embeddings prepared for cosine search, reusable across :func:`knn` calls.

    Exact: ``flat``, a faiss ``IndexFlatIP``. IVF: ``ivf``, the lists (:class:`IVFLists`).
    """

    n: int
    dim: int
    flat: Any = None
    ivf: IVFLists | None = None

    @property
    def exact(self) -> bool:
        """Whether searches are exact."""
        return self.flat is not None


def build(embs: np.ndarray, settings: InsightSettings) -> NeighborIndex:
    n, dim = embs.shape
    if n <= settings.exact_knn_max:
        flat = faiss.IndexFlatIP(dim)
        flat.add(f32(embs))
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
    train = f32(embs[sample])
    kmeans.train(train)
    # faiss types centroids as Optional: they are None only until train() has run.
    vectors = _balanced(train, cast(np.ndarray, kmeans.centroids), n, settings.seed)
    n_lists = len(vectors)
    centroids = faiss.IndexFlatIP(dim)
    centroids.add(vectors)
    # Every row is a query of the split's own search: its probes come with its list for free.
    self_probes = probe(centroids, embs, min(settings.ivf_nprobe, n_lists))
    home_list = self_probes[:, 0]
    list_rows = np.argsort(home_list, kind="stable")
    list_starts = np.zeros(n_lists + 1, dtype=np.int64)
    np.cumsum(np.bincount(home_list, minlength=n_lists), out=list_starts[1:])
    lists = IVFLists(
        centroids=centroids,
        list_starts=list_starts,
        list_rows=list_rows,
        list_embs=embs[list_rows],
        self_probes=self_probes,
    )
    return NeighborIndex(n=n, dim=dim, ivf=lists)


def _balanced(train: np.ndarray, vectors: np.ndarray, n: int, seed: int) -> np.ndarray:
    """The k-means centroids, or, when a list would be oversized, the lists' centroids with the
    oversized lists split (see IVF_LIST_CAP_PER_MEAN); ``train`` is the sample they were fitted on."""
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors)
    home = probe(index, train, 1)[:, 0]
    scale = len(train) / n  # training rows per row
    mean = n / len(vectors)
    expected = np.bincount(home, minlength=len(vectors)) / scale
    oversized = expected > max(IVF_LIST_CAP_PER_MEAN * mean, IVF_LIST_CAP_MIN)
    if not oversized.any():
        return vectors
    part = max(mean, IVF_PART_MIN) * scale  # training rows per part
    kept = [vectors[(expected > 0) & ~oversized]]
    rng = np.random.default_rng(seed)
    for j in np.flatnonzero(oversized):
        for rows in _median_split(train[home == j], part, rng):
            mean_row = rows.mean(axis=0)
            kept.append((mean_row / max(float(np.linalg.norm(mean_row)), 1e-12))[None, :])
    return np.ascontiguousarray(np.concatenate(kept), dtype=np.float32)


def _median_split(rows: np.ndarray, part: float, rng: np.random.Generator) -> list[np.ndarray]:
    """``rows`` cut in halves at the median of their principal direction, again and again, until each
    part holds at most ``part`` rows (at least 2)."""
    if len(rows) <= max(part, 2):
        return [rows]
    centred = rows - rows.mean(axis=0)
    direction = rng.standard_normal(rows.shape[1], dtype=np.float32)
    for _ in range(_POWER_ITERATIONS):
        direction = centred.T @ (centred @ direction)
        direction /= max(float(np.linalg.norm(direction)), 1e-12)
    order = np.argsort(centred @ direction, kind="stable")
    half = len(rows) // 2
    return _median_split(rows[order[:half]], part, rng) + _median_split(rows[order[half:]], part, rng)


def probe(centroids: Any, points: np.ndarray, nprobe: int) -> np.ndarray:
    """The ``nprobe`` lists whose centroids are most similar to each point, best first."""
    probes = np.empty((points.shape[0], nprobe), dtype=np.int32)
    for start in range(0, points.shape[0], PROBE_BATCH):
        block = points[start : start + PROBE_BATCH]
        _, probes[start : start + len(block)] = centroids.search(f32(block), nprobe)
    return probes


def ivf_search(
    index: IVFLists, points: np.ndarray, k: int, nprobe: int, *, self_rows: slice | None, fill_short: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """IVF search list by list (see the module docstring). Queries whose probed lists hold fewer than
    ``k`` rows get the exhaustive search (``fill_short``), or keep their -1 slots (a shard of the
    lists, whose candidates are merged with other shards')."""
    n_lists = index.list_starts.size - 1
    nprobe = min(nprobe, n_lists)
    if self_rows is not None and index.self_probes.shape[1] == nprobe:
        probes = index.self_probes[self_rows]
    else:
        probes = probe(index.centroids, points, nprobe)
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
                block, best = faiss.knn(
                    f32(points[rows]), f32(index.list_embs[lo:hi]), k, metric=faiss.METRIC_INNER_PRODUCT
                )
            elif hi - lo > k:
                block = f32(points[rows]) @ f32(index.list_embs[lo:hi]).T
                best = np.argpartition(block, -k, axis=1)[:, -k:]
                block = np.take_along_axis(block, best, axis=1)
            else:
                block = f32(points[rows]) @ f32(index.list_embs[lo:hi]).T
                best = np.broadcast_to(np.arange(block.shape[1]), block.shape)
            # Each (query, probe) pair owns k cells of its query's candidates.
            cells = slots[:, None] * k + columns[: block.shape[1]]
            cand_sims[rows[:, None], cells] = block
            cand_idx[rows[:, None], cells] = index.list_rows[lo + best]
    d, i = _best(cand_sims, cand_idx, k)
    short = np.flatnonzero((i < 0).any(axis=1)) if fill_short else np.zeros(0, dtype=np.int64)
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


def _brute_force(index: IVFLists, points: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    sims = np.empty((points.shape[0], k), dtype=np.float32)
    idx = np.empty((points.shape[0], k), dtype=np.int64)
    for start in range(0, points.shape[0], BRUTE_FORCE_BATCH):
        block = f32(points[start : start + BRUTE_FORCE_BATCH]) @ index.list_embs.T
        rows = np.broadcast_to(index.list_rows, block.shape)
        sims[start : start + BRUTE_FORCE_BATCH], idx[start : start + BRUTE_FORCE_BATCH] = _best(block, rows, k)
    return sims, idx
