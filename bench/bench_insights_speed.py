"""Speed, memory and ranking quality of ``run_insights`` against cleanlab's Datalab on synthetic runs.

Each measurement runs in a fresh child process, so import and JIT costs count the same way for
both tools and peak RSS (``resource.getrusage``) is per tool. Both children open the run the same
way; the clock then covers importing the tool and computing:

* dq: ``import dq.insights`` + ``run_insights(run, refresh=True)`` (which reads the run's arrays
  itself), called twice in the process: the first call pays the first-call costs, the second is the
  computation alone (the number the target counts).
* Datalab: ``from cleanlab import Datalab`` + ``Datalab(...).find_issues(pred_probs=, features=)``
  on the last epoch's probabilities and embeddings, loaded *before* the clock starts (a head start
  for Datalab). Labels go in as class indices so the columns of ``probs`` match Datalab's classes.

Quality: average precision (and precision at the number of planted errors) of dq's ``dep`` and of
Datalab's label issue ranking (1 - ``label_score``) against the planted flipped labels
(``synthetic.planted_errors``). Datalab is not run at 1M (it would take hours: its cost grows
faster than linearly); with ``--estimate-n`` it runs on that prefix of the 1M run (a synthetic run
is a prefix of a larger one with the same seed) and the 1M time is extrapolated from it.
Writes the ``insights_speed`` section of docs/benchmarks.md.

    .venv/bin/python bench/bench_insights_speed.py [--home /tmp/dq-bench-home] [--estimate-n 200000]
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

from dq.store import Run  # noqa: E402

SPLIT = "training"
TARGET_RATIO = 10.0
TARGET_RSS_GB = 6.0
TARGET_SECONDS_100K = 18.0
PROFILE_TOP = 40


def _peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def _cpu_seconds() -> float:
    """User + system CPU time of this process, all threads (less sensitive to other load than wall)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# ---------------------------------------------------------------- children (one tool per process)


def child_dq(path: Path, out: Path, *, repeats: int, profile: bool) -> dict:
    run = Run(path)
    n = run.n_samples(SPLIT)
    seconds, cpu, rss = [], [], []
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    tick, cpu_tick = time.perf_counter(), _cpu_seconds()
    from dq.insights import run_insights

    for _ in range(repeats):
        results = run_insights(run, refresh=True)
        now, cpu_now = time.perf_counter(), _cpu_seconds()
        seconds.append(now - tick)
        cpu.append(cpu_now - cpu_tick)
        rss.append(_peak_rss_gb())
        tick, cpu_tick = now, cpu_now
    if profiler is not None:
        import io
        import pstats

        profiler.disable()
        text = io.StringIO()
        stats = pstats.Stats(profiler, stream=text).sort_stats("cumulative")
        stats.print_stats(r"/dq/", PROFILE_TOP)
        (out / "profile.txt").write_text(text.getvalue())
    frame = results[SPLIT].frame
    np.save(out / "ids.npy", frame["id"].to_numpy(np.int64))
    np.save(out / "score.npy", frame["dep"].to_numpy(np.float64))
    np.save(out / "flagged.npy", frame["is_mislabeled"].to_numpy(bool))
    return {"n": n, "seconds": seconds, "cpu": cpu, "peak_rss_gb_after": rss, "peak_rss_gb": _peak_rss_gb()}


def child_datalab(path: Path, out: Path, *, n: int | None) -> dict:
    run = Run(path)
    labels_all = run.labels
    index = {name: i for i, name in enumerate(labels_all)}
    stop = n if n else run.n_samples(SPLIT)
    ids = run.samples(SPLIT, columns=["id"])["id"].to_numpy(np.int64)[:stop]
    labels = np.array([index[v] for v in run.samples(SPLIT, columns=["label"])["label"][:stop]], dtype=np.int64)
    probs = np.ascontiguousarray(run.probs(SPLIT)[:stop])
    embs = np.ascontiguousarray(run.embs(SPLIT)[:stop])
    loaded_rss = _peak_rss_gb()
    tick, cpu_tick = time.perf_counter(), _cpu_seconds()
    from cleanlab import Datalab

    lab = Datalab(data={"label": labels}, label_name="label", verbosity=0)
    lab.find_issues(pred_probs=probs, features=embs)
    seconds, cpu = time.perf_counter() - tick, _cpu_seconds() - cpu_tick
    peak = _peak_rss_gb()
    issues = lab.get_issues("label")
    np.save(out / "ids.npy", ids)
    np.save(out / "score.npy", 1.0 - issues["label_score"].to_numpy(np.float64))
    np.save(out / "flagged.npy", issues["is_label_issue"].to_numpy(bool))
    summary = lab.get_issue_summary()
    return {
        "n": int(stop),
        "seconds": [seconds],
        "cpu": [cpu],
        "peak_rss_gb": peak,
        "loaded_rss_gb": loaded_rss,
        "issue_types": summary["issue_type"].tolist(),
        "n_issues": dict(zip(summary["issue_type"], summary["num_issues"].astype(int).tolist())),
    }


# ---------------------------------------------------------------- parent


def spawn(tool: str, path: Path, *, n: int | None = None, repeats: int = 2, profile: bool = False) -> dict:
    """Run one tool in a fresh process; return its JSON plus the process wall time and its arrays."""
    out = Path(tempfile.mkdtemp(prefix=f"dq-bench-{tool}-"))
    cmd = [sys.executable, __file__, "--child", tool, "--path", str(path), "--out", str(out), "--repeats", str(repeats)]
    if n:
        cmd += ["--n", str(n)]
    if profile:
        cmd.append("--profile")
    tick = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - tick
    if proc.returncode != 0:
        raise RuntimeError(f"{tool} child failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["process_wall"] = wall
    result["out"] = str(out)
    return result


def quality(result: dict, planted: np.ndarray) -> dict:
    from sklearn.metrics import average_precision_score

    out = Path(result["out"])
    ids, score, flagged = (np.load(out / f) for f in ("ids.npy", "score.npy", "flagged.npy"))
    truth = planted[ids]
    k = int(truth.sum())
    top = np.argsort(-score, kind="stable")[:k]
    return {
        "ap": float(average_precision_score(truth, score)),
        "p_at_k": float(truth[top].mean()),
        "flag_precision": float(truth[flagged].mean()) if flagged.any() else float("nan"),
        "flag_recall": float(flagged[truth].mean()),
        "n_flagged": int(flagged.sum()),
    }


def _fmt_s(x: float) -> str:
    return f"{x:.1f}" if x < 100 else f"{x:.0f}"


def measure(home: Path, *, estimate_n: int, skip_1m: bool, profile: bool, raw_path: Path) -> dict:
    """Every child run and its quality numbers, printed and saved to ``raw_path`` as they come."""
    from synthetic import default_run_name, planted_errors

    root = home.expanduser() / "runs" / "synthetic"
    path_100k, path_1m = root / default_run_name(100_000), root / default_run_name(1_000_000)

    def show(label: str, r: dict) -> None:
        print(
            f"{label}: {', '.join(_fmt_s(s) for s in r['seconds'])} s "
            f"(CPU {', '.join(_fmt_s(s) for s in r['cpu'])} s), peak RSS {r['peak_rss_gb']:.2f} GB, "
            f"process {r['process_wall']:.1f} s",
            flush=True,
        )
        raw_path.write_text(json.dumps(raw, indent=1))

    raw: dict = {"estimate_n": estimate_n}
    planted = planted_errors(100_000)
    raw["dq100"] = spawn("dq", path_100k, repeats=2, profile=profile)
    show("dq 100k (first, second call)", raw["dq100"])
    raw["lab100"] = spawn("datalab", path_100k)
    show("Datalab 100k", raw["lab100"])
    print(f"  Datalab issue types: {raw['lab100']['issue_types']}", flush=True)
    # dq again after Datalab: the tools' runs interleave against the drifting load of a shared machine.
    raw["dq100b"] = spawn("dq", path_100k, repeats=2)
    show("dq 100k again", raw["dq100b"])
    for key in ("dq100", "lab100", "dq100b"):
        raw[key]["quality"] = quality(raw[key], planted)
        print(f"  quality {key}: {raw[key]['quality']}", flush=True)
    if not skip_1m:
        raw["dq1m"] = spawn("dq", path_1m, repeats=1, profile=profile)
        show("dq 1M", raw["dq1m"])
        raw["dq1m"]["quality"] = quality(raw["dq1m"], planted_errors(1_000_000))
        print(f"  quality dq1m: {raw['dq1m']['quality']}", flush=True)
        if estimate_n:
            raw["lab_est"] = spawn("datalab", path_1m, n=estimate_n)
            show(f"Datalab {estimate_n} (prefix of the 1M run)", raw["lab_est"])
            raw["lab_est"]["quality"] = quality(raw["lab_est"], planted_errors(estimate_n))
            print(f"  quality lab_est: {raw['lab_est']['quality']}", flush=True)
    return raw


def render(raw: dict) -> str:
    """The markdown section: a paragraph on what was measured, the table, the targets."""
    dq_a, dq_b, lab = raw["dq100"], raw["dq100b"], raw["lab100"]
    med = lambda key, i: float(np.median([dq_a[key][i], dq_b[key][i]]))  # noqa: E731
    first, refresh, first_cpu, refresh_cpu = med("seconds", 0), med("seconds", 1), med("cpu", 0), med("cpu", 1)
    rss = max(dq_a["peak_rss_gb"], dq_b["peak_rss_gb"])
    lab_s, lab_cpu = lab["seconds"][0], lab["cpu"][0]
    q_dq, q_lab = dq_a["quality"], lab["quality"]

    def row(n: str, tool: str, sec: float | str, cpu: float | str, mem: str, ratio: str, q: dict | None) -> str:
        sec = _fmt_s(sec) if isinstance(sec, float) else sec
        cpu = _fmt_s(cpu) if isinstance(cpu, float) else cpu
        ap, pk = (f"{q['ap']:.3f}", f"{q['p_at_k']:.3f}") if q else ("", "")
        return f"| {n} | {tool} | {sec} | {cpu} | {mem} | {ratio} | {ap} | {pk} |"

    rows = [
        row(
            "100k",
            "dq `run_insights(refresh=True)`, first call in the process",
            first,
            first_cpu,
            f"{rss:.2f} GB",
            f"{lab_s / first:.1f}×",
            q_dq,
        ),
        row(
            "100k",
            "dq `run_insights(refresh=True)`, second call",
            refresh,
            refresh_cpu,
            f"{rss:.2f} GB",
            f"**{lab_s / refresh:.1f}×**",
            q_dq,
        ),
        row("100k", "cleanlab Datalab `find_issues`", lab_s, lab_cpu, f"{lab['peak_rss_gb']:.2f} GB", "1×", q_lab),
    ]
    ratio = lab_s / refresh
    notes = [
        f"Target Datalab/dq ≥ {TARGET_RATIO:.0f}× at 100k (second call): "
        f"{'met' if ratio >= TARGET_RATIO else 'MISSED'} ({ratio:.1f}×; CPU seconds {lab_cpu / refresh_cpu:.1f}×)."
    ]
    if "dq1m" in raw:
        m = raw["dq1m"]
        rows.append(
            row(
                "1M",
                "dq `run_insights(refresh=True)`, one call",
                m["seconds"][0],
                m["cpu"][0],
                f"**{m['peak_rss_gb']:.2f} GB**",
                "",
                m["quality"],
            )
        )
        notes.append(
            f"Target 1M peak RSS ≤ {TARGET_RSS_GB:.0f} GB: {'met' if m['peak_rss_gb'] <= TARGET_RSS_GB else 'MISSED'}."
        )
        if "lab_est" in raw:
            e, n_est = raw["lab_est"], raw["estimate_n"]
            slope = math.log(e["seconds"][0] / lab_s) / math.log(n_est / 100_000)
            t_1m = e["seconds"][0] * (1_000_000 / n_est) ** slope
            rows.append(
                row(
                    f"{n_est // 1000}k",
                    "cleanlab Datalab `find_issues` (prefix of the 1M run)",
                    e["seconds"][0],
                    e["cpu"][0],
                    f"{e['peak_rss_gb']:.2f} GB",
                    "",
                    e["quality"],
                )
            )
            rows.append(
                row(
                    "1M",
                    "cleanlab Datalab, extrapolated (not run)",
                    f"~{t_1m / 60:.0f} min",
                    "",
                    "",
                    f"~{t_1m / m['seconds'][0]:.0f}×",
                    None,
                )
            )
            notes.append(
                f"Datalab was not run at 1M (hours): from 100k to {n_est // 1000}k its time grew as "
                f"n^{slope:.2f}, which puts 1M near {t_1m / 60:.0f} minutes (extrapolated from two "
                f"noisy points, not measured)."
            )
        else:
            notes.append("Datalab was not run at 1M: its time grows faster than linearly in n; 1M would take hours.")
    return "\n".join(
        [
            "## dq insights vs cleanlab Datalab: speed, memory, ranking (synthetic runs)",
            "",
            "`bench/bench_insights_speed.py` on the synthetic runs of `bench/synthetic.py` (20 classes, 384-d "
            "embeddings, 3 epochs, 10% of labels flipped; training split only). Each tool runs in a fresh "
            "process and its clock covers importing the tool and computing. dq: `run_insights(run, "
            "refresh=True)`, every analysis but the 2-D map, reading the run's arrays itself; called twice in "
            "one process, and that process run twice, before and after Datalab (medians shown). Datalab: "
            "`find_issues(pred_probs=, features=)` on the last epoch's probabilities and embeddings, already "
            f"in memory, which ran {', '.join(lab['issue_types'])}. CPU: user + system seconds of all threads "
            "(2 cores; steadier than wall time on this shared machine). Peak RSS: the child's `ru_maxrss`. "
            "Ratio: Datalab seconds / dq seconds. AP: average precision of dq's `dep` and of Datalab's label "
            "ranking (1 − `label_score`) against the planted flips; P@k: precision of the top k, k = number "
            "of flips.",
            "",
            "| n | tool | seconds | CPU s | peak RSS | Datalab / dq | AP | P@k |",
            "|---|---|---|---|---|---|---|---|",
            *rows,
            "",
            " ".join(notes),
            "",
            f"Every dq run at 100k (s): first calls {_fmt_s(dq_a['seconds'][0])}, {_fmt_s(dq_b['seconds'][0])}; "
            f"second calls {_fmt_s(dq_a['seconds'][1])}, {_fmt_s(dq_b['seconds'][1])}. Flagged as mislabeled at "
            f"100k: dq {q_dq['n_flagged']} (precision {q_dq['flag_precision']:.3f}, recall "
            f"{q_dq['flag_recall']:.3f}); Datalab {q_lab['n_flagged']} (precision {q_lab['flag_precision']:.3f}, "
            f"recall {q_lab['flag_recall']:.3f}).",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, default=Path("/tmp/dq-bench-home"))
    parser.add_argument(
        "--estimate-n",
        type=int,
        default=200_000,
        help="run Datalab on this prefix of the 1M run to extrapolate 1M (0: skip)",
    )
    parser.add_argument("--skip-1m", action="store_true", help="only the 100k measurements")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="cProfile dq's children (top functions under dq/, saved beside their arrays)",
    )
    parser.add_argument(
        "--raw",
        type=Path,
        default=Path(tempfile.gettempdir()) / "dq-bench-insights-speed.json",
        help="where the raw measurements are saved as they come (default: %(default)s)",
    )
    parser.add_argument("--from-raw", type=Path, help="render saved raw measurements instead of measuring")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    parser.add_argument("--child", choices=["dq", "datalab"], help=argparse.SUPPRESS)
    parser.add_argument("--path", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--repeats", type=int, default=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child == "dq":
        print(json.dumps(child_dq(args.path, args.out, repeats=args.repeats, profile=args.profile)))
        return 0
    if args.child == "datalab":
        print(json.dumps(child_datalab(args.path, args.out, n=args.n)))
        return 0

    from _report import machine, write_section

    print(f"# {machine()}", flush=True)
    if args.from_raw:
        raw = json.loads(args.from_raw.read_text())
    else:
        raw = measure(
            args.home, estimate_n=args.estimate_n, skip_1m=args.skip_1m, profile=args.profile, raw_path=args.raw
        )
        args.raw.write_text(json.dumps(raw, indent=1))
    body = render(raw)
    print("\n" + body)
    if not args.no_write:
        write_section("insights_speed", body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
