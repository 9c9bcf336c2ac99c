"""The nearest-neighbour search two ways on the same queries of a large run: the trained IVF index
broadcast whole to every worker (what dq does), and the same lists cut into S shards, each shard
searched on its own and the candidates merged to the top k.

Both use dq's own list-by-list search (``dq.insights.ivf.ivf_search``) on the local executor's
threads; the shards' lists are balanced by rows. Reported: seconds (median of the repeats), the
ratio, recall@10 against exact search on a query sample, and what one worker must hold (the
broadcast index, or its largest shard). Run::

    python bench/bench_shards.py --run /tmp/dq-5m-home/runs/synthetic/synth-v1-n1000000-c20-d384-e3-noise0.1-s0

and the results replace the ``shards`` section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import faiss
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import machine, write_section  # noqa: E402

from dq._util.embs import f32  # noqa: E402
from dq.insights import ivf  # noqa: E402
from dq.insights.compute import read_embs  # noqa: E402
from dq.insights.settings import InsightSettings  # noqa: E402
from dq.scale import active, open_executor, use  # noqa: E402
from dq.store import Run  # noqa: E402

K = 10
BLOCK = 16_384


def shard(lists: ivf.IVFLists, owned: np.ndarray) -> ivf.IVFLists:
    """The lists ``owned`` (a boolean per list) of ``lists``; the others left empty."""
    sizes = np.diff(lists.list_starts) * owned
    starts = np.zeros_like(lists.list_starts)
    np.cumsum(sizes, out=starts[1:])
    keep = np.repeat(owned, np.diff(lists.list_starts))
    return ivf.IVFLists(
        centroids=lists.centroids,
        list_starts=starts,
        list_rows=lists.list_rows[keep],
        list_embs=lists.list_embs[keep],
        self_probes=lists.self_probes[:, :0],  # never used: queries probe the centroids
    )


def balanced_shards(lists: ivf.IVFLists, n_shards: int) -> list[ivf.IVFLists]:
    """``n_shards`` shards of about equal rows: the largest lists first, each to the lightest shard."""
    sizes = np.diff(lists.list_starts)
    owner = np.empty(len(sizes), dtype=np.int64)
    load = np.zeros(n_shards, dtype=np.int64)
    for j in np.argsort(-sizes, kind="stable"):
        owner[j] = int(np.argmin(load))
        load[owner[j]] += sizes[j]
    return [shard(lists, owner == s) for s in range(n_shards)]


def search_block(
    block: tuple[int, np.ndarray], *, lists: ivf.IVFLists, nprobe: int, whole: bool
) -> tuple[np.ndarray, np.ndarray]:
    """One block of queries against one index: the whole one, or a shard (whose queries may find fewer
    than k rows in their probed lists: the merge fills them from the other shards)."""
    return ivf.ivf_search(lists, block[1], K, nprobe, self_rows=None, fill_short=whole)


def nbytes(lists: ivf.IVFLists) -> int:
    return int(lists.list_embs.nbytes + lists.list_rows.nbytes + lists.list_starts.nbytes)


def broadcast(queries: np.ndarray, lists: ivf.IVFLists, nprobe: int) -> np.ndarray:
    blocks = [(s, queries[s : s + BLOCK]) for s in range(0, len(queries), BLOCK)]
    found = active().map(search_block, blocks, shared={"lists": lists, "nprobe": nprobe, "whole": True}, threads=True)
    return np.concatenate([i for _, i in found])


def sharded(queries: np.ndarray, shards: list[ivf.IVFLists], nprobe: int) -> np.ndarray:
    blocks = [(s, queries[s : s + BLOCK]) for s in range(0, len(queries), BLOCK)]
    per_shard = [
        active().map(search_block, blocks, shared={"lists": one, "nprobe": nprobe, "whole": False}, threads=True)
        for one in shards
    ]
    merged = []
    for b in range(len(blocks)):  # the top-k merge: every shard's k candidates of each query
        sims = np.concatenate([found[b][0] for found in per_shard], axis=1)
        idx = np.concatenate([found[b][1] for found in per_shard], axis=1)
        merged.append(ivf._best(sims, idx, K)[1])
    return np.concatenate(merged)


def recall(found: np.ndarray, exact: np.ndarray) -> float:
    return float(np.mean([len(set(a) & set(b)) / K for a, b in zip(found, exact)]))


def _verdict(rows: list[tuple[str, float, float, float, int]]) -> str:
    """What the figures say (written from them, not before)."""
    slowest = max(rows[1:], key=lambda r: r[2])
    fastest = min(rows[1:], key=lambda r: r[2])
    held = rows[0][4] / min(r[4] for r in rows[1:])
    if fastest[2] >= 1.0:
        choice = "Chosen: the broadcast index."
    else:
        choice = "Shards were faster here; the broadcast index stays the default only while a worker can hold it."
    return (
        f"{choice} The shards took {fastest[2]:.2f}–{slowest[2]:.2f}× its time (every query goes to every shard "
        f"and the candidates are merged) with the same recall, and each worker held up to {held:.1f}× less. "
        "Shards pay off where one worker cannot hold the index (docs/scale.md, the 100M plan)."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path, required=True)
    parser.add_argument("--split", default="training")
    parser.add_argument("--queries", type=int, default=131_072)
    parser.add_argument("--shards", type=int, nargs="+", default=[2, 4])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    settings = InsightSettings()
    run = Run(args.run)
    embs = read_embs(run, args.split, settings)
    n = len(embs)
    start = time.perf_counter()
    index = ivf.build(embs, settings)
    build_s = time.perf_counter() - start
    assert index.ivf is not None
    rng = np.random.default_rng(0)
    queries = f32(embs[np.sort(rng.choice(n, min(args.queries, n), replace=False))])
    sample = rng.choice(len(queries), 1000, replace=False)
    flat = faiss.IndexFlatIP(embs.shape[1])
    for s in range(0, n, 262_144):
        flat.add(f32(embs[s : s + 262_144]))
    exact = flat.search(queries[sample], K)[1]
    del flat
    rows = []
    with open_executor("local") as ex, use(ex):
        times, found = [], None
        for _ in range(args.repeats):
            t = time.perf_counter()
            found = broadcast(queries, index.ivf, settings.ivf_nprobe)
            times.append(time.perf_counter() - t)
        base = statistics.median(times)
        rows.append(("broadcast (dq)", base, 1.0, recall(found[sample], exact), nbytes(index.ivf)))
        print(rows[-1], flush=True)
        for n_shards in args.shards:
            shards = balanced_shards(index.ivf, n_shards)
            times = []
            for _ in range(args.repeats):
                t = time.perf_counter()
                found = sharded(queries, shards, settings.ivf_nprobe)
                times.append(time.perf_counter() - t)
            median = statistics.median(times)
            rows.append((f"{n_shards} shards, top-k merge", median, median / base, recall(found[sample], exact),
                         max(nbytes(s) for s in shards)))  # fmt: skip
            print(rows[-1], flush=True)
    table = "\n".join(
        f"| {name} | {sec:.1f} | {ratio:.2f}× | {rec:.3f} | {mem / 1024**3:.2f} |"
        for name, sec, ratio, rec, mem in rows
    )
    body = "\n\n".join(
        [
            "## Neighbour search: broadcast index or shards",
            f"`bench/bench_shards.py` on `{args.run.name}` ({n:,} rows, {embs.dtype} embeddings; index built in "
            f"{build_s:.0f} s): {len(queries):,} queries, k = {K}, nprobe = {settings.ivf_nprobe}, on the local "
            f"executor's threads; median of {args.repeats}. Recall@{K} against exact search on 1,000 of the queries. "
            "Per worker: what one worker holds (the whole index, or its largest shard).",
            "| search | seconds | × broadcast | recall@10 | per worker (GB) |\n|---|---|---|---|---|\n" + table,
            _verdict(rows),
            f"_Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {machine()}._",
        ]
    )
    print(body)
    if not args.no_write:
        write_section("shards", body)


if __name__ == "__main__":
    main()
