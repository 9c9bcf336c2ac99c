"""Would float16 embeddings on disk change the neighbours? A measurement, before deciding.

The synthetic run's training embeddings (float32, unit rows) are rounded to float16 and back; for
``--queries`` rows, the 10 nearest neighbours among all rows (exact inner product) are found with
both, and compared: recall@10 of the float16 neighbours against the float32 ones, and the largest
change of a cosine similarity. Run::

    python bench/synthetic.py --n 100000 --home /tmp/dq-bench-home   # once
    python bench/bench_float16.py

and the results replace the ``float16`` section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import write_section  # noqa: E402

DEFAULT_RUN = Path("/tmp/dq-bench-home/runs/synthetic/synth-v1-n100000-c20-d384-e3-noise0.1-s0")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path, default=DEFAULT_RUN)
    parser.add_argument("--queries", type=int, default=5_000)
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args()
    from dq.insights.neighbors import knn
    from dq.store import Run

    embs = Run(args.run).embs("training")
    half = embs.astype(np.float16).astype(np.float32)
    half /= np.linalg.norm(half, axis=1, keepdims=True)
    full_nbrs = knn(embs, k=10, queries=embs[: args.queries])
    half_nbrs = knn(half, k=10, queries=half[: args.queries])
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(full_nbrs.idx, half_nbrs.idx)])
    same_first = float(np.mean(full_nbrs.idx[:, 0] == half_nbrs.idx[:, 0]))
    cos_change = float(np.abs(np.einsum("ij,ij->i", embs, half) - 1).max())
    body = "\n".join(
        [
            "## float16 embeddings on disk: what they would change",
            "",
            f"The {len(embs):,} training embeddings ({embs.shape[1]}-d, unit rows) of `{args.run.name}` rounded to "
            f"float16 and back (`bench/bench_float16.py`); the 10 nearest neighbours of {args.queries:,} of them "
            "(exact search) with float32 and with float16 vectors:",
            "",
            "| recall@10 (float16 vs float32) | same nearest neighbour | largest change of a vector (1 − cosine) "
            "| disk of the embeddings |",
            "|---|---|---|---|",
            f"| {recall:.4f} | {same_first:.4f} | {cos_change:.1e} | ½ |",
            "",
            "Near-ties swap places, so the neighbours (and what is computed from them: label mixes, near duplicates, "
            "outliers) would differ slightly from the float32 run; dq keeps float32 on disk until that difference is "
            "measured on DEP and the flags, not only on the neighbours.",
        ]
    )
    print(body)
    if not args.no_write:
        write_section("float16", body)


if __name__ == "__main__":
    main()
