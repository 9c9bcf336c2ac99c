"""Every knob of the insights engine, in one frozen dataclass (part of the cache key)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from hashlib import sha256

from dq.config import DEFAULT_STRICTNESS


@dataclass(frozen=True)
class InsightSettings:
    """Settings of ``dq.insights``; change with ``dataclasses.replace``. Defaults favour precision."""

    seed: int = 0
    # -- neighbors (cosine similarity over L2-normalized embeddings)
    n_neighbors: int = 10
    #: Above this many samples, neighbors come from an IVF index instead of exact search.
    exact_knn_max: int = 20_000
    #: IVF lists probed per query: recall vs speed.
    ivf_nprobe: int = 8
    #: A split whose float32 embeddings would take more bytes than this is read and indexed as
    #: float16 (half the memory; 5M x 384 fits in 3.6 GiB instead of 7.2): neighbors within float16
    #: rounding of float32's (recall@10 0.9995 measured on 100k).
    float32_embs_max_bytes: int = 4 * 2**30
    # -- near duplicates
    #: Cosine similarity at or above which two samples are near duplicates.
    duplicate_similarity: float = 0.95
    # -- outliers / out of coverage
    #: Share of training samples whose neighborhood is sparse enough to call them outliers.
    outlier_share: float = 0.01
    # -- likely mislabeled: the precision/recall knob (see dq.config.DEFAULT_STRICTNESS).
    mislabel_strictness: float = DEFAULT_STRICTNESS
    # -- clusters
    #: None: chosen from the split size.
    n_clusters: int | None = None
    cluster_top_words: int = 8
    # -- the 2-D map
    map_neighbors: int = 15
    map_min_dist: float = 0.1

    def key(self) -> str:
        """A short stable hash of the settings, for cache keys."""
        return sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:16]
