"""Per-worker throughput of the batch steps on each executor (dq.scale): local, Ray and Dask.

On this machine the engines start a local cluster of 2 workers (the 2 cores), so their figures are
per worker on shared cores, and the overhead is that of the engine (start, sending the index or the
model name, gathering results) against doing the same batches in this process:

- embedding: ``--texts`` synthetic texts (fresh each time: no cache) by the bundled MiniLM through
  ``dq.auto.embed.embed_texts`` (the model loaded once per worker);
- nearest neighbours: ``--queries`` rows of the synthetic run's training embeddings searched among
  all of them (``dq.insights.neighbors.knn``, the index sent once per worker);
- scoring rows: for those rows, the label mix of their neighbours (``knn_label_distribution``, the
  labels sent once per worker) and their cluster against fitted centroids (``assign_clusters``,
  the centroids sent once): the per-row steps that run on the engine after the search.

Run::

    python bench/synthetic.py --n 100000 --home /tmp/dq-bench-home   # once
    python bench/bench_executors.py

and the results replace the ``executors`` section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import write_section  # noqa: E402

DEFAULT_RUN = Path("/tmp/dq-bench-home/runs/synthetic/synth-v1-n100000-c20-d384-e3-noise0.1-s0")


def _texts(n: int, salt: str) -> list[str]:
    words = "card transfer refund balance pin account fee limit cash exchange rate travel phone app".split()
    return [f"{salt} {i} " + " ".join(words[(i * 7 + j) % len(words)] for j in range(8 + i % 9)) for i in range(n)]


def measure(executor: str, embs, labels, model, n_texts: int, n_queries: int) -> dict[str, float]:  # noqa: ANN001
    from dq.auto.embed import embed_texts
    from dq.insights.clusters import assign_clusters
    from dq.insights.neighbors import knn, knn_label_distribution
    from dq.scale import open_executor, use

    start = time.perf_counter()
    with open_executor(executor) as ex, use(ex):
        started = time.perf_counter()
        with tempfile.TemporaryDirectory() as cache:
            t = time.perf_counter()
            embed_texts(_texts(n_texts, executor), cache_dir=cache, progress=False)
            embed_s = time.perf_counter() - t
        t = time.perf_counter()
        nbrs = knn(embs, k=10, queries=embs[:n_queries])
        knn_s = time.perf_counter() - t
        t = time.perf_counter()
        knn_label_distribution(nbrs, labels, int(labels.max()) + 1)
        assign_clusters(embs[:n_queries], model)
        score_s = time.perf_counter() - t
        workers = ex.workers
    return {
        "workers": workers,
        "start_s": started - start,
        "stop_s": time.perf_counter() - start - (started - start) - embed_s - knn_s - score_s,
        "embed_s": embed_s,
        "knn_s": knn_s,
        "score_s": score_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path, default=DEFAULT_RUN)
    parser.add_argument("--texts", type=int, default=4_000)
    parser.add_argument("--queries", type=int, default=50_000)
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args()
    from dq.insights.clusters import fit_clusters
    from dq.insights.compute import label_indices
    from dq.store import Run

    run = Run(args.run)
    embs = run.embs("training")
    labels = label_indices(run.samples_table("training", columns=["label"]).column("label"), list(run.labels))
    model = fit_clusters(embs, seed=0)  # fitted once, in this process: not timed
    results = {ex: measure(ex, embs, labels, model, args.texts, args.queries) for ex in ("local", "ray", "dask")}
    local = results["local"]
    lines = [
        "## Executors: per-worker throughput and overhead (dq.scale)",
        "",
        f"Embedding {args.texts:,} new texts (bundled MiniLM, no cache) and searching the 10 nearest neighbours of "
        f"{args.queries:,} rows among the {len(embs):,} training embeddings of `{args.run.name}` (exact inner "
        "product), then scoring those rows (their neighbours' label mix and their cluster among "
        f"{len(model.centroids)} fitted centroids), in one process (local) and on a local cluster of 2 workers started for the purpose (Ray tasks, "
        "Dask futures), on the same 2 cores. Per worker = the step's rate divided by the workers. "
        "`bench/bench_executors.py`.",
        "",
        "| executor | workers | start s | texts/s per worker | embedding × local | kNN queries/s per worker "
        "| kNN × local | rows scored/s per worker | scoring × local | stop s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        lines.append(
            f"| {name} | {r['workers']:.0f} | {r['start_s']:.1f} | {args.texts / r['embed_s'] / r['workers']:,.0f} | "
            f"{r['embed_s'] / local['embed_s']:.2f} | {args.queries / r['knn_s'] / r['workers']:,.0f} | "
            f"{r['knn_s'] / local['knn_s']:.2f} | {args.queries / r['score_s'] / r['workers']:,.0f} | "
            f"{r['score_s'] / local['score_s']:.2f} | {r['stop_s']:.1f} |"
        )
    lines += [
        "",
        "“× local” is the step's time on the engine over its time in this process, in the same run of the script "
        "(below 1: faster). Two workers on two cores cannot beat one process that already uses both cores (numpy and "
        "torch are multi-threaded): on this machine the engines cost their start and the transfers; their use is more "
        "machines, where the per-worker rates add up.",
    ]
    body = "\n".join(lines)
    print(body)
    if not args.no_write:
        write_section("executors", body)


if __name__ == "__main__":
    main()
