"""The 2-D map of a split (UMAP), computed once per run and cached beside it.

Kept apart from the other insights: it is the slowest step and only the console needs it, so
``dq insights`` never waits for it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from dq._util.fileio import atomic_path
from dq._util.steps import step
from dq.insights.cache import cache_dir
from dq.insights.compute import read_embs
from dq.insights.projection import project_2d
from dq.insights.settings import InsightSettings
from dq.store.reader import Run


def _map_key(settings: InsightSettings) -> str:
    fields = {"seed": settings.seed, "n": settings.map_neighbors, "d": settings.map_min_dist}
    return "map-" + hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:12]


def split_map(run: Run, split: str, *, settings: InsightSettings = InsightSettings()) -> np.ndarray:
    """(n, 2) float32 map coordinates of ``split``, row-aligned with ``run.samples(split)``.

    >>> xy = split_map(Run("~/.dq/runs/demo/banking77"), "training")  # doctest: +SKIP
    >>> xy.shape  # doctest: +SKIP
    (10003, 2)
    """
    run.check_split(split)
    path = cache_dir(run, _map_key(settings), kind="map") / f"{split}.npy"
    cached = _load_map(path, run.n_samples(split))
    if cached is not None:
        return cached
    with step(f"{split}/map"):
        embs = read_embs(run, split, settings)  # float16 for a large split, as for the other insights
        xy = project_2d(embs, seed=settings.seed, n_neighbors=settings.map_neighbors, min_dist=settings.map_min_dist)
        xy = xy.astype(np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp, tmp.open("wb") as fh:
        np.save(fh, xy)
    return xy


def _load_map(path: Path, n_samples: int) -> np.ndarray | None:
    """The cached map, or None when absent or damaged (it is then laid out again and rewritten)."""
    if not path.exists():
        return None
    try:
        xy = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError):
        return None
    return xy if xy.shape == (n_samples, 2) and np.isfinite(xy).all() else None
