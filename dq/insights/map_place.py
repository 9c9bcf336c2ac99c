"""The 2-D map of a large split: UMAP fitted on a seeded sample, every other row placed on it.

UMAP's graph and layout grow with the rows laid out (memory for the graph, single-threaded SGD
with a seed); above :data:`MAP_FIT_MAX` rows a seeded sample of that many is laid out by
:func:`dq.insights.projection.project_2d`'s pipeline and each other row is placed among its
nearest sampled rows, in the PCA space the sample was laid out from: at the mean of their map
positions, weighted by how much closer each is than the row's mean neighbour (UMAP's own
``transform`` starts a new point the same way). The placement is a batch function of a block of
rows, run on the active executor (dq.scale): here, or on Ray / Dask workers with the sample's
index and positions sent to each once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from dq._util.embs import f32
from dq.insights.l2_index import l2_ivf, l2_search
from dq.scale import active as active_executor

#: Splits larger than this are laid out on a seeded sample of this many rows.
MAP_FIT_MAX = 200_000
#: Rows placed per block (one batch of the executor).
PLACE_BATCH = 65_536
#: Sampled rows looked up for each placed row.
PLACE_NEIGHBORS = 10
#: IVF over the sample: lists per sqrt(sample rows), training rows per list, lists probed.
PLACE_LISTS_PER_SQRT_N = 1
PLACE_TRAIN_PER_LIST = 39
PLACE_NPROBE = 8


@dataclass(frozen=True, eq=False)
class Basis:
    """The PCA the sample was laid out from: ``row @ components.T - shift``."""

    components: np.ndarray  # (dims, d) float32
    shift: np.ndarray  # (dims,) float32

    def project(self, rows: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(f32(rows) @ self.components.T - self.shift)


def sampled_map(embs: np.ndarray, seed: int, basis: Basis, lay_out: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """(n, 2) positions of every row: ``lay_out`` (PCA-reduced rows -> positions) on a seeded sample of
    :data:`MAP_FIT_MAX` rows, the others placed on it (see the module docstring)."""
    n = embs.shape[0]
    sample = np.sort(np.random.default_rng(seed).choice(n, MAP_FIT_MAX, replace=False))
    reduced = basis.project(embs[sample])
    coords = np.ascontiguousarray(lay_out(reduced), dtype=np.float32)
    index = _sample_index(reduced, seed)
    out = np.empty((n, 2), dtype=np.float32)
    rest = np.ones(n, dtype=bool)
    rest[sample] = False
    out[sample] = coords
    others = np.flatnonzero(rest)
    starts = list(range(0, len(others), PLACE_BATCH))
    executor = active_executor()
    # Waves of a few blocks per worker: the blocks of a 5M-row split never wait in the engine all at once.
    wave = max(1, executor.workers) * 4
    shared = {"basis": basis, "index": index, "coords": coords}
    for first in range(0, len(starts), wave):
        rows = [others[s : s + PLACE_BATCH] for s in starts[first : first + wave]]
        for block_rows, placed in zip(rows, executor.map(place_block, [embs[r] for r in rows], shared=shared)):
            out[block_rows] = placed
    return out


def _sample_index(reduced: np.ndarray, seed: int) -> Any:
    """An IVF (Euclidean) index over the sample's reduced rows."""
    n_lists = round(PLACE_LISTS_PER_SQRT_N * np.sqrt(len(reduced)))
    return l2_ivf(reduced, n_lists=n_lists, train_per_list=PLACE_TRAIN_PER_LIST, nprobe=PLACE_NPROBE, seed=seed)


def place_block(rows: np.ndarray, *, basis: Basis, index: Any, coords: np.ndarray) -> np.ndarray:
    """Map positions of one block of rows among the sample's (the batch function every executor runs)."""
    points = basis.project(rows)
    sq, idx = l2_search(index, points, PLACE_NEIGHBORS)
    found = idx >= 0
    dists = np.sqrt(np.maximum(sq, 0.0), where=found, out=np.full(sq.shape, np.inf, dtype=np.float32))
    # Closer neighbours weigh more: exp(-(d - nearest) / mean gap), the nearest at weight 1.
    gap = dists - dists[:, :1]
    scale = np.where(found, gap, 0.0).sum(axis=1, keepdims=True) / np.maximum(found.sum(axis=1, keepdims=True), 1)
    weights = np.where(found, np.exp(-gap / np.maximum(scale, 1e-12)), 0.0)
    weights /= weights.sum(axis=1, keepdims=True)
    return np.einsum("ij,ijk->ik", weights, coords[np.maximum(idx, 0)]).astype(np.float32)
