"""The split metrics the console recomputes (summary_metrics + class_report) at 100k samples x 77 classes.

`dq.insights.compute` builds a split's class report and summary metrics (with the DEP statistics)
from its labels, predictions and DEP; this times exactly those two calls on synthetic data the
size of a large run (BANKING77's 77 classes, 100,000 samples, 80% of predictions right, 1% of
samples unlabeled). One untimed warm-up call, then ``--reps`` timed repetitions.

    .venv/bin/python bench/bench_metrics.py [--reps 7] [--samples 100000] [--classes 77]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from _report import write_section  # noqa: E402

from dq.config import UNLABELED  # noqa: E402
from dq.insights.metrics import class_report, summary_metrics  # noqa: E402

SEED = 4
ACCURACY = 0.8
UNLABELED_SHARE = 0.01


def synthetic_split(n: int, n_classes: int, seed: int = SEED) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels (a few unlabeled), predictions right ``ACCURACY`` of the time, and DEP in [0, 1)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, n_classes, n)
    preds = np.where(rng.random(n) < ACCURACY, labels, rng.integers(0, n_classes, n))
    labels[rng.random(n) < UNLABELED_SHARE] = UNLABELED
    return labels, preds, rng.random(n)


def recompute(labels: np.ndarray, preds: np.ndarray, dep: np.ndarray, names: list[str]) -> float:
    """Seconds for one recompute of a split's summary metrics and class report."""
    start = time.perf_counter()
    summary = summary_metrics(labels, preds, names, dep=dep)
    report = class_report(labels, preds, names)
    seconds = time.perf_counter() - start
    n_labeled = int((labels != UNLABELED).sum())
    if summary["n"] != n_labeled or len(report) != len(names):
        raise RuntimeError(
            f"summary_metrics/class_report must cover {n_labeled} labeled samples and {len(names)} classes. "
            f"Got n={summary['n']} and {len(report)} report rows instead."
        )
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--samples", type=int, default=100_000)
    parser.add_argument("--classes", type=int, default=77)
    args = parser.parse_args()
    names = [f"c{i}" for i in range(args.classes)]
    labels, preds, dep = synthetic_split(args.samples, args.classes)
    load_before = os.getloadavg()
    recompute(labels, preds, dep, names)  # warm-up: first-call costs out
    times_ms = []
    for rep in range(args.reps):
        times_ms.append(recompute(labels, preds, dep, names) * 1000)
        print(f"rep {rep}: {times_ms[-1]:7.1f} ms", flush=True)
    load_after = os.getloadavg()
    low, mid, high = min(times_ms), statistics.median(times_ms), max(times_ms)
    print(
        f"summary_metrics + class_report, {args.samples:,} samples x {args.classes} classes: "
        f"median {mid:.1f} ms (min {low:.1f}, max {high:.1f}, {args.reps} reps)"
    )
    write_section(
        "metrics",
        f"""## Split metrics recompute (summary_metrics + class_report)

`bench/bench_metrics.py`: the two calls `dq.insights.compute` makes for a split's metrics,
`summary_metrics(labels, preds, class_names, dep=dep)` and `class_report(labels, preds, class_names)`,
on synthetic data: {args.samples:,} samples, {args.classes} classes, {ACCURACY:.0%} of predictions right,
{UNLABELED_SHARE:.0%} unlabeled, seed {SEED}. One warm-up call, then {args.reps} timed repetitions in one process.

| measure | min | median | max |
|---|---|---|---|
| summary_metrics + class_report | {low:.1f} ms | {mid:.1f} ms | {high:.1f} ms |

All repetitions (ms): {", ".join(f"{x:.1f}" for x in times_ms)}. Load average (1/5/15 min)
{"/".join(f"{x:.2f}" for x in load_before)} before, {"/".join(f"{x:.2f}" for x in load_after)} after.""",
    )


if __name__ == "__main__":
    main()
