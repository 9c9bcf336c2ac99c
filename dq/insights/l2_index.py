"""Euclidean nearest-neighbour search for the 2-D map (UMAP's neighbour graph, and placing the rows
of a split too large to lay out whole): a trained IVF index, and a search that never leaves a slot
empty.

An IVF search probes a few lists; where those lists hold fewer than ``k`` rows, faiss fills the
rest with -1. Those queries are searched again with every list probed: over an IVF-Flat index
that is an exact search, so every query gets its ``k`` nearest rows.
"""

from __future__ import annotations

from typing import Any

import faiss
import numpy as np


def l2_ivf(points: np.ndarray, *, n_lists: int, train_per_list: int, nprobe: int, seed: int) -> Any:
    """An IVF-Flat (Euclidean) index over ``points`` with ``n_lists`` lists, trained on a seeded
    sample of ``train_per_list`` rows per list, probing ``nprobe`` lists per query."""
    n, d = points.shape
    n_lists = max(1, min(int(n_lists), n))
    index = faiss.IndexIVFFlat(faiss.IndexFlatL2(d), d, n_lists)
    index.cp.seed = seed
    train = np.sort(np.random.default_rng(seed).choice(n, min(n, n_lists * train_per_list), replace=False))
    index.train(points[train])
    index.add(points)
    index.nprobe = max(1, min(int(nprobe), n_lists))
    return index


def l2_search(index: Any, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(squared distances, row indices) of the ``k`` nearest rows of each query; queries whose
    probed lists held fewer than ``k`` rows are searched again probing every list (exact)."""
    sq, idx = index.search(queries, k)
    short = np.flatnonzero((idx < 0).any(axis=1))
    if short.size and hasattr(index, "nlist"):
        every = faiss.SearchParametersIVF()
        every.nprobe = index.nlist
        sq[short], idx[short] = index.search(queries[short], k, params=every)
    return sq, idx
