"""The demo's first build (`dq demo` into an empty DQ_HOME) with its shipped embeddings, against embedding them.

Each build is a whole `dq demo --quiet` process in a fresh DQ_HOME: imports, model load, the check
of the shipped vectors, training and writing the run, which is what `make run` waits for on a fresh
clone. The baseline is the same data through `dq auto` with an empty cache (what `dq demo` did
before it shipped the vectors). Runs alternate (demo, baseline, demo, ...) so drift hits both.
Target: the demo in under 30 s.

    .venv/bin/python bench/bench_demo.py [--reps 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import write_section  # noqa: E402

from dq.auto.demo import demo_frame  # noqa: E402

TARGET_S = 30.0
DQ = [sys.executable, "-m", "dq"]


def timed(command: list[str]) -> float:
    """Seconds one command takes in a fresh DQ_HOME (it must succeed)."""
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "DQ_HOME": home, "HF_HUB_OFFLINE": "1"}
        start = time.perf_counter()
        subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)
        return time.perf_counter() - start


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):.1f} s (min {min(values):.1f}, max {max(values):.1f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "banking77.csv"
        demo_frame().to_csv(data, index=False)
        baseline = [
            *DQ,
            "auto",
            str(data),
            "--text-col",
            "text",
            "--label-col",
            "category",
            "--split-col",
            "split",
            "--project",
            "demo",
            "--run",
            "banking77",
            "--quiet",
        ]
        shipped, embedded = [], []
        for rep in range(args.reps):
            shipped.append(timed([*DQ, "demo", "--quiet"]))
            embedded.append(timed(baseline))
            print(
                f"rep {rep + 1}: shipped embeddings {shipped[-1]:.1f} s, embedding the texts {embedded[-1]:.1f} s",
                flush=True,
            )
    ratio = statistics.median(e / s for e, s in zip(embedded, shipped))
    met = "met" if statistics.median(shipped) < TARGET_S else "MISSED"
    body = "\n".join(
        [
            "## Demo build (`dq demo`, fresh DQ_HOME)",
            "",
            f"A whole `dq demo --quiet` process into an empty DQ_HOME (13,083 BANKING77 texts), {args.reps} runs each,",
            "alternating with the baseline: the same file through `dq auto` with an empty embedding cache.",
            "",
            "| build | median (min, max) |",
            "|---|---|",
            f"| `dq demo` with the shipped embeddings (checked, then cached) | {spread(shipped)} |",
            f"| embedding the texts (`dq auto`, empty cache) | {spread(embedded)} |",
            "",
            f"Shipped embeddings: {ratio:.1f}x faster (median of paired ratios). Target < {TARGET_S:.0f} s: {met}.",
        ]
    )
    write_section("demo", body)
    print(body)


if __name__ == "__main__":
    main()
