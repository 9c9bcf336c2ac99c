"""Epoch pooling two ways on one run: dq's (each epoch's probabilities placed by their ``row`` column
and summed in NumPy, one epoch at a time: ``dq.insights.posterior.pool_epochs``) against an id-keyed join
in DuckDB over the epochs' Parquet parts (the mean of the epochs' probability arrays, per id, in
the samples' order).

Each way runs in its own process (``--way numpy`` / ``--way duckdb``) and prints its seconds and
peak RSS; the two must give the same pooled matrix (``--check`` compares them in one process).
Pair the two processes with a whole-process timer, e.g. ``/usr/bin/time -v``, several runs each::

    python bench/bench_pooling.py RUN_DIR --way numpy
    python bench/bench_pooling.py RUN_DIR --way duckdb
    python bench/bench_pooling.py RUN_DIR --check
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from dq.insights.posterior import pool_epochs  # noqa: E402
from dq.store import Run, layout  # noqa: E402


def pooled_numpy(run: Run, split: str) -> np.ndarray:
    epochs = run.epochs(split)
    return pool_epochs(lambda i: run.probs(split, epochs[i]), len(epochs), in_sample=False).all


def pooled_duckdb(run: Run, split: str) -> np.ndarray:
    """The mean of every epoch's probabilities per sample id, the epochs joined by id in DuckDB, in
    the split's order (the first epoch's ``row``)."""
    import duckdb

    epochs = run.epochs(split)
    n_classes = len(run.labels)
    with duckdb.connect() as con:
        scans = [str(layout.outputs_dir(run.path, split, e) / "*.parquet") for e in epochs]
        joins = " ".join(f"JOIN read_parquet('{scan}') e{i} USING (id)" for i, scan in enumerate(scans) if i)
        total = " + ".join(f"e{i}.probs[k]" for i in range(len(epochs)))
        sql = (
            f"SELECT list_transform(range(1, {n_classes + 1}), lambda k: ({total}) / {len(epochs)}) AS pooled "
            f"FROM read_parquet('{scans[0]}') e0 {joins} ORDER BY e0.row"  # row: the sample's place in the split
        )
        column = con.sql(sql).to_arrow_table().column("pooled").combine_chunks()
    return column.flatten().to_numpy(zero_copy_only=False).astype(np.float32).reshape(-1, n_classes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--split", default="training")
    parser.add_argument("--way", choices=["numpy", "duckdb"])
    parser.add_argument("--check", action="store_true", help="both ways in this process: the same matrix?")
    args = parser.parse_args()
    run = Run(args.run)
    if args.check:
        a, b = pooled_numpy(run, args.split), pooled_duckdb(run, args.split)
        print(f"max abs difference {np.abs(a - b).max():.2e} over {a.shape}")
        return
    start = time.perf_counter()
    pooled = (pooled_numpy if args.way == "numpy" else pooled_duckdb)(run, args.split)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    print(f"{args.way}: {pooled.shape[0]:,} x {pooled.shape[1]} pooled in {seconds:.1f} s, peak RSS {peak:.2f} GB")


if __name__ == "__main__":
    main()
