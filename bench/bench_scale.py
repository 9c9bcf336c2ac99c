"""dq insights on the large synthetic runs (1M and 5M samples x 384-d, 20 classes, 3 epochs) with the
local executor, each step timed; and the engines' overhead on the same run (--executor ray / dask).

Each command runs in a fresh process, ``dq insights RUN --out ... --refresh -v`` (every analysis,
the cache rewritten), and the 2-D map after it (``--with-map`` on the cached insights, so only the
map is computed). The step lines ``-v`` prints give each step's seconds and the peak RSS so far;
the command's RSS sampled ten times a second gives each step's own peak, and the child's
``ru_maxrss`` the peak of the whole command. Runs are built by bench/synthetic.py once and reused. Run::

    python bench/bench_scale.py --home /tmp/dq-scale-home --n 1000000 5000000 --engines-at 1000000

(``--only insights`` or ``--only map`` reruns one command; every result is kept in the home's
bench_scale.jsonl and the table shows the latest of each)

and the results replace the ``scale`` section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import machine, write_section  # noqa: E402
from synthetic import default_run_name, make_run  # noqa: E402

STEP = re.compile(r"^dq: step=(.+) seconds=([0-9.]+) peak_gb=([0-9.]+)$", re.M)
#: The figure before this work (docs/benchmarks.md, insights speed): 1M in one call, the map left out.
OLD_1M = {"seconds": 1073, "peak_gb": 5.17}


@dataclass
class Result:
    n: int
    executor: str
    what: str
    seconds: float
    peak_gb: float
    #: (step, seconds, peak RSS so far, peak RSS within the step; absent in older records)
    steps: list[tuple[float | str, ...]] = field(default_factory=list)
    rc: int = 0


def _run(cmd: list[str], n: int, executor: str, what: str) -> Result:
    """Run ``cmd``, collect the step lines it prints, and the peak RSS of the whole command (the
    child's ``ru_maxrss``) and within each step (its RSS sampled ten times a second between one
    step line and the next: what a step itself holds, where ``peak_gb`` is the peak so far)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    sampled = [0.0]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.1):
            sampled[0] = max(sampled[0], _rss_gb(proc.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    steps: list[tuple[float | str, ...]] = []
    tail: list[str] = []
    assert proc.stderr is not None
    for line in proc.stderr:
        tail = [*tail[-40:], line]
        hit = STEP.match(line.rstrip("\n"))
        if hit:
            steps.append((hit[1], float(hit[2]), float(hit[3]), max(sampled[0], _rss_gb(proc.pid))))
            sampled[0] = 0.0
    _, status, usage = os.wait4(proc.pid, 0)
    done.set()
    proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - start
    if proc.returncode:
        print("".join(tail), file=sys.stderr)
    return Result(n, executor, what, seconds, usage.ru_maxrss / 1024**2, steps, proc.returncode)


def _rss_gb(pid: int) -> float:
    """The resident set of process ``pid`` now (0 when it has ended)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    found = re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)
    return int(found[1]) / 1024**2 if found else 0.0


def _insights(run: Path, n: int, executor: str, out: Path, *, with_map: bool = False) -> Result:
    dq = str(Path(sys.executable).with_name("dq"))
    cmd = [dq, "insights", str(run), "--out", str(out), "-v", "--executor", executor]
    cmd += ["--with-map"] if with_map else ["--refresh"]
    return _run(cmd, n, executor, "map" if with_map else "insights")


def _keep(log: Path, result: Result) -> None:
    print(result, flush=True)
    with log.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps({**asdict(result), "measured": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}) + "\n")


def _kept(log: Path) -> list[Result]:
    if not log.exists():
        return []
    records = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [
        Result(r["n"], r["executor"], r["what"], r["seconds"], r["peak_gb"], [tuple(x) for x in r["steps"]], r["rc"])
        for r in records
    ]


def _table(results: list[Result]) -> str:
    rows = ["| n | executor | command | seconds | peak RSS (GB) | vs local |", "|---|---|---|---|---|---|"]
    local = {(r.n, r.what): r.seconds for r in results if r.executor == "local"}
    for r in results:
        ratio = f"{r.seconds / local[(r.n, r.what)]:.2f}×" if r.executor != "local" and (r.n, r.what) in local else ""
        what = "dq insights --refresh" if r.what == "insights" else "the 2-D map (--with-map, insights cached)"
        status = "" if r.rc == 0 else f" (exit {r.rc})"
        rows.append(f"| {r.n:,} | {r.executor} | {what}{status} | {r.seconds:.0f} | {r.peak_gb:.2f} | {ratio} |")
    return "\n".join(rows)


def _steps(results: list[Result]) -> str:
    local = [r for r in results if r.executor == "local"]
    names = list(dict.fromkeys(str(step[0]) for r in local for step in r.steps))
    head = " | ".join(f"{r.n:,} {r.what}: s / peak GB" for r in local)
    rows = [f"| step | {head} |", "|---|" + "---|" * len(local)]
    for name in names:
        cells = []
        for r in local:
            hit = [step[1:] for step in r.steps if step[0] == name]
            within = f" / {hit[0][2]:.2f}" if hit and len(hit[0]) > 2 else ""
            cells.append(f"{hit[0][0]:.1f} / {hit[0][1]:.2f}{within}" if hit else "")
        rows.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, required=True, help="dq home holding (or to hold) the synthetic runs")
    parser.add_argument("--n", type=int, nargs="+", default=[1_000_000, 5_000_000])
    parser.add_argument("--engines-at", type=int, default=None, help="also run Ray and Dask on the run of this size")
    parser.add_argument("--no-map", action="store_true", help="leave the 2-D map out")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    parser.add_argument(
        "--only",
        choices=["insights", "map"],
        default=None,
        help="run only this command (the others' last results stay)",
    )
    parser.add_argument("--report", action="store_true", help="run nothing: write the table of the kept results")
    parser.add_argument("--note", default="", help="a paragraph added under the tables (how this run went)")
    args = parser.parse_args()
    # Every result is kept in the home's bench_scale.jsonl; the table shows the latest of each
    # (n, executor, command), so a long benchmark can be run, or rerun, in pieces.
    log = args.home / "bench_scale.jsonl"
    results: list[Result] = []
    for n in [] if args.report else args.n:
        run = args.home / "runs" / "synthetic" / default_run_name(n, n_classes=20, dim=384, epochs=3, noise=0.1, seed=0)
        if not run.exists():
            make_run(n, home=args.home)
        out = args.home / f"insights-{n}.parquet"
        executors = ["local"] + (["ray", "dask"] if n == args.engines_at else [])
        if args.only != "map":
            for executor in executors:
                results.append(_insights(run, n, executor, out))
                _keep(log, results[-1])
        if not args.no_map and args.only != "insights":
            results.append(_insights(run, n, "local", out, with_map=True))
            _keep(log, results[-1])
    latest = {(r.n, r.executor, r.what): r for r in _kept(log)}
    order = {"local": 0, "ray": 1, "dask": 2}
    results = sorted(latest.values(), key=lambda r: (r.n, r.what != "insights", order.get(r.executor, 9)))
    old = (
        f"Before this work (docs above, insights speed): 1M in {OLD_1M['seconds']} s with a peak of "
        f"{OLD_1M['peak_gb']} GB, the map left out."
    )
    body = "\n\n".join(
        [
            "## Scale: 1M and 5M samples on one machine (local executor), Ray and Dask overhead",
            "`bench/bench_scale.py`: synthetic runs of bench/synthetic.py (384-d, 20 classes, 3 epochs, 10% of "
            "labels flipped; embeddings logged with every epoch, as an integration does). Each command in a fresh "
            "process; seconds are wall time on this shared 2-core machine, peak RSS the child's `ru_maxrss`. "
            "Splits above 4 GiB of float32 embeddings are held as float16; the map of a split above 200k rows "
            "is UMAP on a 200k sample with the other rows placed on it. Ray and Dask start a local cluster of "
            "2 workers (1 CPU each) inside the command; their start-up is included.",
            _table(results),
            "Steps (`-v`): seconds / peak RSS so far (GB) / peak RSS within the step (GB; sampled every 0.1 s, "
            "where measured).",
            _steps(results),
            old,
            *([args.note] if args.note else []),
            f"_Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {machine()}._",
        ]
    )
    print(body)
    if not args.no_write:
        write_section("scale", body)


if __name__ == "__main__":
    main()
