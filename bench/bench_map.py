"""Time the 2-D map (project_2d) and the clusters (fit_clusters + cluster_keywords) on synthetic data.

Every measurement runs in its own fresh Python process, so "cold" really is cold and each peak RSS
(``resource.getrusage``, which includes generating the data) belongs to one measurement:

* map, first run after installing umap: numba's cache pointed at an empty folder (everything compiles);
* map, fresh process with the numba disk cache filled (what a user sees on every later run);
* map, warm: a second call in that same process;
* clusters + keywords at each ``--sizes`` entry (default 100k and 1M).

Data: 384-d unit vectors in topics -> subtopics -> a few directions of variation per topic plus
noise, and texts made of topic words, shared filler and stop words. Wall and CPU seconds are both
printed: on a busy machine CPU seconds are the steadier number.

    .venv/bin/python bench/bench_map.py [--map-n 100000] [--sizes 100000 1000000] [--stock]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DIM = 384
TOPICS = 40
SUBTOPICS = 8
RANK = 8
SUBTOPIC_SPREAD = 0.6
VARIATION = 0.35
NOISE = 0.15
GENERATE_BATCH = 65_536
TOPIC_WORDS = 25
FILLER_WORDS = 300
WORDS_PER_TEXT = (3, 4, 3)  # topic words, filler words, stop words
STOP_WORDS = np.array(["the", "my", "is", "and", "it", "was", "to", "of", "in", "for"])
TOP_WORDS = 8


def synthetic_embs(n: int, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(n, 384) float32 unit rows with topic/subtopic structure, and the topic of each row."""
    rng = np.random.default_rng(seed)
    scale = 1 / np.sqrt(DIM)
    centres = rng.normal(scale=scale, size=(TOPICS, DIM))
    subs = centres[:, None] + rng.normal(scale=scale * SUBTOPIC_SPREAD, size=(TOPICS, SUBTOPICS, DIM))
    bases = rng.normal(scale=scale, size=(TOPICS, RANK, DIM))
    topic = rng.integers(0, TOPICS, n)
    out = np.empty((n, DIM), dtype=np.float32)
    for start in range(0, n, GENERATE_BATCH):
        t = topic[start : start + GENERATE_BATCH]
        m = t.size
        rows = subs[t, rng.integers(0, SUBTOPICS, m)]
        coefs = rng.normal(size=(m, RANK))
        for k in range(TOPICS):  # per topic: no (m, RANK, DIM) temporary
            mine = t == k
            rows[mine] += VARIATION * coefs[mine] @ bases[k]
        rows += rng.normal(scale=scale * NOISE, size=(m, DIM))
        out[start : start + m] = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    return out, topic


def synthetic_texts(topic: np.ndarray, *, seed: int = 0) -> list[str]:
    """One short text per row: words of its topic among shared filler and stop words."""
    rng = np.random.default_rng(seed)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))

    def words(count: int) -> np.ndarray:
        return np.array(["".join(rng.choice(letters, rng.integers(4, 10))) for _ in range(count)])

    topic_vocab = words(TOPICS * TOPIC_WORDS).reshape(TOPICS, TOPIC_WORDS)
    filler = words(FILLER_WORDS)
    n_topic, n_filler, n_stop = WORDS_PER_TEXT
    picks = np.concatenate(
        [
            topic_vocab[topic[:, None], rng.integers(0, TOPIC_WORDS, (topic.size, n_topic))],
            filler[rng.integers(0, FILLER_WORDS, (topic.size, n_filler))],
            STOP_WORDS[rng.integers(0, STOP_WORDS.size, (topic.size, n_stop))],
        ],
        axis=1,
    )
    return [" ".join(row) for row in picks.tolist()]


def peak_rss_gb() -> float:
    """Peak resident memory of this process so far, in GiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # KiB on Linux


def timed(fn, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN201
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - wall, time.process_time() - cpu


def child_map(n: int, stock: bool) -> dict:
    embs, _ = synthetic_embs(n)
    start_wall, start_cpu = time.perf_counter(), time.process_time()
    if stock:
        import warnings

        import umap

        warnings.filterwarnings("ignore")
        project = lambda x: umap.UMAP(metric="cosine", random_state=0).fit_transform(x)  # noqa: E731
    else:
        from dq.insights.projection import project_2d as project  # the import is part of a cold call
    first, _, _ = timed(project, embs)
    cold = {"wall_s": time.perf_counter() - start_wall, "cpu_s": time.process_time() - start_cpu}
    _, wall, cpu = timed(project, embs)
    return {"cold": cold, "warm": {"wall_s": wall, "cpu_s": cpu}, "peak_rss_gb": peak_rss_gb(),
            "finite": bool(np.isfinite(first).all())}  # fmt: skip


def child_clusters(n: int) -> dict:
    from dq.insights.clusters import fit_clusters
    from dq.insights.keywords import cluster_keywords

    embs, topic = synthetic_embs(n)
    texts = synthetic_texts(topic)
    model, fit_wall, fit_cpu = timed(fit_clusters, embs, seed=0)
    keywords, kw_wall, kw_cpu = timed(cluster_keywords, texts, model.labels, top_n=TOP_WORDS)
    from sklearn.metrics import adjusted_rand_score

    return {
        "n_clusters": model.n_clusters,
        "fit": {"wall_s": fit_wall, "cpu_s": fit_cpu},
        "keywords": {"wall_s": kw_wall, "cpu_s": kw_cpu},
        "ari_vs_topics": float(adjusted_rand_score(topic, model.labels)),
        "keywords_found": sum(bool(words) for words in keywords.values()),
        "peak_rss_gb": peak_rss_gb(),
    }


def run_child(args: list[str], env: dict[str, str] | None = None) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", *args], check=True, capture_output=True, text=True,
        env={**os.environ, **(env or {})},
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--map-n", type=int, default=100_000)
    parser.add_argument("--sizes", type=int, nargs="*", default=[100_000, 1_000_000])
    parser.add_argument("--stock", action="store_true", help="also time stock umap.UMAP(metric='cosine')")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, n = args.child[0], int(args.child[1])
        result = child_clusters(n) if kind == "clusters" else child_map(n, stock=kind == "stock")
        print(json.dumps(result))
        return

    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    map_args = ["map", str(args.map_n)]
    rows = []
    with tempfile.TemporaryDirectory() as empty_cache:
        rows.append(("map, first run (empty numba cache)", run_child(map_args, {"NUMBA_CACHE_DIR": empty_cache})))
    rows.append(("map, fresh process (numba cache filled)", run_child(map_args)))
    if args.stock:
        rows.append(("stock umap cosine, fresh process", run_child(["stock", str(args.map_n)])))
    for name, r in rows:
        cold, warm = r["cold"], r["warm"]
        print(f"{name:42s} n={args.map_n:,}: cold {cold['wall_s']:.1f} s wall ({cold['cpu_s']:.1f} s CPU), "
              f"warm {warm['wall_s']:.1f} s wall ({warm['cpu_s']:.1f} s CPU), "
              f"peak RSS {r['peak_rss_gb']:.2f} GiB")  # fmt: skip
    for n in args.sizes:
        r = run_child(["clusters", str(n)])
        fit, kw = r["fit"], r["keywords"]
        print(f"clusters n={n:,} ({r['n_clusters']} clusters, ARI vs topics {r['ari_vs_topics']:.2f}): "
              f"fit_clusters {fit['wall_s']:.1f} s wall ({fit['cpu_s']:.1f} s CPU), "
              f"cluster_keywords {kw['wall_s']:.1f} s wall ({kw['cpu_s']:.1f} s CPU), "
              f"peak RSS {r['peak_rss_gb']:.2f} GiB")  # fmt: skip
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
