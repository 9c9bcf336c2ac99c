"""Neighbors, near duplicates and outliers on synthetic clustered embeddings: time and peak memory.

Each size runs in its own process, so its peak RSS (``resource.getrusage``) is its own. The data:
20 Gaussian blobs in 384-d, normalized; by default each blob spreads along 16 random directions
plus isotropic noise, like sentence embeddings (``--rank 0``: fully isotropic blobs, the worst
case for IVF, whose k-means lists come out lopsided). Targets: 100k well under 20 s for the whole
insights pass, 1M within 6 GB. Prints a table; writes nothing.

    .venv/bin/python bench/bench_neighbors.py [--sizes 100000 1000000] [--rank 16]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from _report import machine  # noqa: E402

from dq.insights.duplicates import find_near_duplicates  # noqa: E402
from dq.insights.neighbors import build_index, knn, knn_label_distribution  # noqa: E402
from dq.insights.outliers import find_outliers  # noqa: E402
from dq.insights.settings import InsightSettings  # noqa: E402

DIM = 384
N_BLOBS = 20
SPREAD = 0.5
NOISE = 0.03
CHUNK = 65_536
RECALL_QUERIES = 1_000
RECALL_BLOCK = 25
K = InsightSettings().n_neighbors


def blobs(n: int, *, rank: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` normalized float32 points in 20 blobs (written chunk by chunk: no float64 copy)."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((N_BLOBS, DIM)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    bases = (rng.standard_normal((N_BLOBS, max(rank, 1), DIM)) / np.sqrt(DIM)).astype(np.float32)
    blob = rng.integers(0, N_BLOBS, n)
    out = np.empty((n, DIM), dtype=np.float32)
    for start in range(0, n, CHUNK):
        b = blob[start : start + CHUNK]
        x = centres[b] + NOISE * rng.standard_normal((b.size, DIM), dtype=np.float32)
        if rank:
            z = SPREAD * rng.standard_normal((b.size, rank), dtype=np.float32)
            for j in range(N_BLOBS):
                x[b == j] += z[b == j] @ bases[j]
        out[start : start + b.size] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out, blob


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_one(n: int, rank: int) -> dict[str, float]:
    """Time each step at one size, in this process."""
    timings: dict[str, float] = {}

    def step(name: str, fn):
        wall, cpu = time.perf_counter(), cpu_seconds()
        value = fn()
        timings[name] = time.perf_counter() - wall
        timings[f"{name}_cpu"] = cpu_seconds() - cpu
        return value

    settings = InsightSettings()
    embs, blob = step("generate", lambda: blobs(n, rank=rank))
    texts = [f"sample text {i}" for i in range(n)]
    index = step("build_index", lambda: build_index(embs, settings=settings))
    nbrs = step("knn", lambda: knn(embs, k=K, settings=settings, index=index))
    step("label_distribution", lambda: knn_label_distribution(nbrs, blob, N_BLOBS))
    step("duplicates", lambda: find_near_duplicates(texts, blob, nbrs, settings=settings))
    step("outliers", lambda: find_outliers(nbrs, settings=settings))
    timings["peak_rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    timings["recall"] = recall(embs, nbrs.idx)
    return timings


def recall(embs: np.ndarray, idx: np.ndarray) -> float:
    """Recall@k of the search against full matrix products, on sampled queries (after the RSS
    reading: its products are the benchmark's, not the library's)."""
    queries = np.random.default_rng(1).choice(len(embs), size=min(RECALL_QUERIES, len(embs)), replace=False)
    found = []
    for block in np.array_split(queries, max(1, queries.size // RECALL_BLOCK)):
        sims = embs[block] @ embs.T
        sims[np.arange(block.size), block] = -np.inf
        exact = np.argpartition(-sims, K, axis=1)[:, :K]
        found += [np.intersect1d(a, b).size / K for a, b in zip(exact, idx[block])]
    return float(np.mean(found))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--rank", type=int, default=16, help="spread directions per blob; 0: isotropic")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # child process: one size
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one, args.rank)))
        return
    print(f"# {machine()}; blobs rank {args.rank}, k={K}")
    steps = ["build_index", "knn", "label_distribution", "duplicates", "outliers"]
    print(f"{'n':>9} " + " ".join(f"{s:>20}" for s in steps) + f" {'total':>14} {'recall':>7} {'peak RSS':>9}")
    for n in args.sizes:
        child = [sys.executable, __file__, "--one", str(n), "--rank", str(args.rank)]
        t = json.loads(subprocess.run(child, check=True, capture_output=True, text=True).stdout)
        cells = " ".join(f"{t[s]:>8.2f}s ({t[s + '_cpu']:>6.1f} cpu)" for s in steps)
        total = sum(t[s] for s in steps)
        total_cpu = sum(t[s + "_cpu"] for s in steps)
        print(
            f"{n:>9} {cells} {total:>6.1f}s ({total_cpu:>5.1f}) {t['recall']:>7.3f} {t['peak_rss_gb']:>7.2f}GB",
            flush=True,
        )


if __name__ == "__main__":
    main()
