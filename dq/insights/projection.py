"""The 2-D map of a split: UMAP over the embeddings, made fast enough for 100k points on a laptop.

Stock ``umap.UMAP(metric="cosine")`` spends about a minute per fresh process compiling numba code
(most of it pynndescent's nearest-neighbor descent, which is not cached on disk) before doing
any work. This module avoids that cost and most of the rest:

1. PCA to :data:`MAP_PCA_DIMS` dimensions (covariance of a seeded sample), then the k nearest
   neighbors from faiss (exact up to ``InsightSettings.exact_knn_max`` rows, IVF above), handed to UMAP
   as ``precomputed_knn``: pynndescent never runs.
2. UMAP's own numba kernels (fuzzy-set construction and the layout's SGD epoch) are switched to
   numba's on-disk cache, so only the first process after installing umap compiles them.
3. Initial layout = the first two principal components instead of the spectral layout (a sparse
   eigen-solve that costs more than the rest of the pipeline at 100k).
4. SGD epochs from a fixed budget of point-epochs (:data:`MAP_EPOCH_BUDGET`): 500 epochs for a
   small split like UMAP's default, 100 at 100k.

5. Above ``map_place.MAP_FIT_MAX`` rows (200k) UMAP lays out a seeded sample and every other row
   is placed among its nearest sampled rows, block by block on the active executor
   (:mod:`dq.insights.map_place`).

With a seed UMAP runs its SGD single-threaded (the parallel SGD is not reproducible): a cached
map must not move between runs.
"""

from __future__ import annotations

import functools
import warnings
from typing import Any

import faiss
import numpy as np

from dq._util.embs import as_embs
from dq._util.validate import as_non_negative_int, is_int
from dq.errors import ValidationError
from dq.insights import map_place
from dq.insights.l2_index import l2_ivf, l2_search
from dq.insights.map_place import Basis
from dq.insights.settings import InsightSettings

#: Dimensions kept by the PCA before the neighbor search (about 80% of the variance of MiniLM
#: embeddings of BANKING77); fewer makes the search cheaper and the map's neighborhoods worse.
MAP_PCA_DIMS = 100
#: The PCA's covariance is estimated on at most this many seeded rows (cost independent of n).
MAP_PCA_SAMPLE = 50_000
#: Neighbors are exact (faiss IndexFlatL2 in PCA space) up to ``exact_knn_max`` rows of the
#: settings, IVF above: ``sqrt(n)`` lists, trained on this many rows per list, ``ivf_nprobe`` probed.
MAP_IVF_TRAIN_PER_LIST = 39
#: The settings' defaults (the map's neighbors, minimum distance and search) are the one source.
_DEFAULTS = InsightSettings()
#: SGD work: ``epochs = MAP_EPOCH_BUDGET / n`` clipped to [MAP_EPOCHS_MIN, MAP_EPOCHS_MAX].
MAP_EPOCH_BUDGET = 10_000_000
MAP_EPOCHS_MIN = 50
MAP_EPOCHS_MAX = 500
#: Two coordinates per point.
MAP_DIMS = 2

# UMAP's lazily compiled numba kernels on the precomputed-neighbors path, cached on disk after the
# first compile. (Its kernels with explicit signatures compile at import, in about half a second.)
_UMAP_KERNELS = {
    "umap.layouts": ("_nb_optimize_layout_euclidean_single_epoch",),
    "umap.umap_": ("smooth_knn_dist", "compute_membership_strengths"),
}


def project_2d(
    embs: Any, *, seed: int = 0, n_neighbors: int = _DEFAULTS.map_neighbors, min_dist: float = _DEFAULTS.map_min_dist
) -> np.ndarray:
    """Lay out the rows of ``embs`` in 2-D so that similar samples land near each other (UMAP).

    Parameters
    ----------
    embs : (n, d) float array
        Sentence embeddings (cosine geometry: rows are L2-normalized on a copy if needed).
    seed : int
        Same embeddings and seed, same map.
    n_neighbors : int
        Neighbors per point of UMAP's graph: larger keeps more global structure.
    min_dist : float
        UMAP's ``min_dist``, in [0, 1]: how tightly neighbors may be packed (smaller = tighter clumps).

    Returns
    -------
    (n, 2) float32 array
        Map coordinates (UMAP's scale, roughly 0 to 10+). Fewer than ``n_neighbors + 2`` rows
        are laid out by PCA instead of UMAP.

    Examples
    --------
    >>> embs = np.random.default_rng(0).normal(size=(10, 8)).astype(np.float32)
    >>> project_2d(embs, seed=0).shape  # 10 rows < n_neighbors + 2: the PCA fallback
    (10, 2)
    """
    embs = as_embs(embs, param="embs")
    seed = as_non_negative_int(seed, param="seed")
    if not is_int(n_neighbors) or n_neighbors < 2:
        raise ValidationError(f"The 'n_neighbors' parameter must be an integer >= 2. Got {n_neighbors!r} instead.")
    number = isinstance(min_dist, (int, float, np.number)) and not isinstance(min_dist, bool)
    if not number or not 0 <= min_dist <= 1:
        raise ValidationError(f"The 'min_dist' parameter must be a number in [0, 1]. Got {min_dist!r} instead.")
    return _compute_map(embs, int(seed), int(n_neighbors), float(min_dist))


def map_epochs(n: int) -> int:
    """SGD epochs of a map of ``n`` points: a fixed work budget, clipped to [50, 500].

    >>> [map_epochs(n) for n in (5_000, 50_000, 100_000, 1_000_000)]
    [500, 200, 100, 50]
    """
    return int(min(max(round(MAP_EPOCH_BUDGET / max(n, 1)), MAP_EPOCHS_MIN), MAP_EPOCHS_MAX))


def _compute_map(embs: np.ndarray, seed: int, n_neighbors: int, min_dist: float) -> np.ndarray:
    n = embs.shape[0]
    if n < n_neighbors + 2:
        return _pca_fallback(embs)
    basis = _pca_basis(embs, MAP_PCA_DIMS, seed)
    if n > map_place.MAP_FIT_MAX:  # laid out on a sample, the other rows placed on it
        return map_place.sampled_map(embs, seed, basis, lambda reduced: _umap(reduced, seed, n_neighbors, min_dist))
    return _umap(basis.project(embs), seed, n_neighbors, min_dist)


def _umap(reduced: np.ndarray, seed: int, n_neighbors: int, min_dist: float) -> np.ndarray:
    """UMAP of PCA-reduced rows, from their neighbors and first two components (module docstring)."""
    n = reduced.shape[0]
    init = reduced[:, :MAP_DIMS]
    if np.ptp(init, axis=0).min() == 0:  # identical rows: UMAP would divide by a zero range
        return _pca_fallback(reduced)
    idx, dists = _knn(reduced, n_neighbors, seed)
    reducer = _umap_class()(
        n_neighbors=n_neighbors, min_dist=min_dist, n_components=MAP_DIMS, metric="euclidean",
        random_state=seed, precomputed_knn=(idx, dists), init=np.ascontiguousarray(init),
        n_epochs=map_epochs(n),
    )  # fmt: skip
    with warnings.catch_warnings():
        # "n_jobs overridden by random_state" and "no search index with precomputed_knn" are expected.
        warnings.filterwarnings("ignore", category=UserWarning, module=r"umap\.")
        coords = reducer.fit_transform(reduced)
    return np.ascontiguousarray(coords, dtype=np.float32)


def _pca_basis(embs: np.ndarray, dims: int, seed: int) -> Basis:
    """The top ``dims`` principal directions (of a seeded sample of at most MAP_PCA_SAMPLE rows),
    centred; projecting never copies all of ``embs`` in float64."""
    n, d = embs.shape
    sample = embs
    if n > MAP_PCA_SAMPLE:
        sample = embs[np.sort(np.random.default_rng(seed).choice(n, MAP_PCA_SAMPLE, replace=False))]
    sample = sample.astype(np.float64)
    mean = sample.mean(axis=0)
    centred = sample - mean
    _, vectors = np.linalg.eigh(centred.T @ centred)
    components = _fix_signs(vectors[:, ::-1][:, : min(dims, d)].T)
    # x @ W - mean @ W: no centred copy of all rows.
    return Basis(components.astype(np.float32), (mean @ components.T).astype(np.float32))


def _fix_signs(components: np.ndarray) -> np.ndarray:
    """Flip each component so its largest-magnitude entry is positive (eigenvectors have no sign)."""
    signs = np.sign(components[np.arange(components.shape[0]), np.abs(components).argmax(axis=1)])
    return components * np.where(signs == 0, 1.0, signs)[:, None]


def _pca_fallback(embs: np.ndarray) -> np.ndarray:
    """Top-two principal components of a handful of rows (zeros where there is no variance)."""
    n, d = embs.shape
    out = np.zeros((n, MAP_DIMS), dtype=np.float32)
    if n < MAP_DIMS:
        return out
    centred = embs.astype(np.float64) - embs.mean(axis=0, dtype=np.float64)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    k = min(MAP_DIMS, vt.shape[0])
    out[:, :k] = centred @ _fix_signs(vt[:k]).T
    return out


def _knn(points: np.ndarray, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The k nearest rows of every row (itself first), as int64 indices and Euclidean distances."""
    n, d = points.shape
    if n <= _DEFAULTS.exact_knn_max:
        index: Any = faiss.IndexFlatL2(d)
        index.add(points)
    else:
        index = l2_ivf(
            points,
            n_lists=round(np.sqrt(n)),
            train_per_list=MAP_IVF_TRAIN_PER_LIST,
            nprobe=_DEFAULTS.ivf_nprobe,
            seed=seed,
        )
    sq_dists, idx = l2_search(index, points, k)
    dists = np.sqrt(np.maximum(sq_dists, 0)).astype(np.float32)
    # faiss's BLAS path leaves a rounding residue on a row's distance to itself; UMAP reads the
    # first non-zero distance as the gap to the nearest *other* row, so make it exactly zero.
    dists[idx == np.arange(n)[:, None]] = 0.0
    return idx.astype(np.int64), dists


@functools.cache
def _umap_class() -> type:
    """Import umap (seconds: leave it out of ``import dq``) and switch its kernels to numba's disk cache."""
    import importlib

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Tensorflow not installed", category=ImportWarning)
        import umap

    for module_name, names in _UMAP_KERNELS.items():
        module = importlib.import_module(module_name)
        for name in names:
            kernel = getattr(module, name, None)
            # Kernels renamed in another umap version are simply compiled per process, as stock.
            if kernel is not None and hasattr(kernel, "enable_caching"):
                kernel.enable_caching()
    return umap.UMAP
