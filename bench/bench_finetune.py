"""What `dq auto --fine-tune` buys: DEP AP against the default mode, and its time on this machine.

For each dataset and seed: a stratified subset of the training texts (``--n``), 10% of its labels
flipped (class-conditional and instance-dependent, bench/noise.py), written to a CSV and turned
into a run by ``dq.auto.auto`` twice:

- the default mode: cross-fitted heads on frozen MiniLM embeddings + the lexical view;
- ``fine_tune=True``: MiniLM fine-tuned end to end (3 epochs, in sample) + the lexical view.

Both runs go through ``run_insights``; reported: DEP AP on the flipped rows, cleanlab's best
ranking on each run's last-epoch probabilities, and the wall time of ``auto`` (embeddings cached,
so the default mode's time is its training). Then the cost at full size: fine-tuning on ``--time-n``
BANKING77 texts for one epoch, timed (the default three epochs cost three such epochs).

    .venv/bin/python bench/bench_finetune.py [--datasets trec sms_spam banking77] [--seeds 1] [--n 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import write_section  # noqa: E402
from bench_in_sample import best_cleanlab, subset  # noqa: E402
from noise import embeddings, inject_noise, load_dataset, model_confusion, weak_model_probs  # noqa: E402

from dq.auto.pipeline import AutoSettings, auto  # noqa: E402
from dq.config import CONFIG, cache_root  # noqa: E402
from dq.insights import run_insights  # noqa: E402
from dq.store import Run  # noqa: E402

NOISES = (("class_conditional", 0.10), ("instance", 0.10))
#: Rows measured so far (dataset|noise|rate|seed|n -> figures), reused unless --fresh.
RESULTS = cache_root() / "bench" / "finetune.json"


def build(
    frame: pd.DataFrame, home: Path, *, fine_tune: bool, seed: int, epochs: int | None = None
) -> tuple[Run, float]:
    """Write ``frame`` to a CSV and run dq auto on it; the run and the seconds ``auto`` took."""
    data = home / ("finetune.csv" if fine_tune else "default.csv")
    frame.to_csv(data, index=False)
    default_epochs = CONFIG.fine_tune_epochs if fine_tune else CONFIG.auto_epochs
    settings = AutoSettings(
        text="text", label="label", id="id", seed=seed, fine_tune=fine_tune, epochs=epochs or default_epochs
    )
    start = time.perf_counter()
    result = auto(data, settings, home=home, progress=False, log=lambda _m: None)
    return Run(result.path), time.perf_counter() - start


def dep_ap(run: Run, is_error: np.ndarray) -> float:
    from sklearn.metrics import average_precision_score

    frame = run_insights(run)["training"].frame
    ids = frame["id"].astype(int).to_numpy()  # dq auto reads the CSV's ids as they were written
    return float(average_precision_score(is_error[ids], frame["dep"].to_numpy()))


def evaluate(ds, rows: np.ndarray, kind: str, rate: float, seed: int, confusion, weak) -> dict[str, float]:
    n_classes = len(ds.classes)
    clean = ds.y[rows]
    noisy = inject_noise(clean, n_classes, kind=kind, seed=seed, confusion=confusion, weak_probs=weak[rows], rate=rate)
    is_error = noisy != clean
    frame = pd.DataFrame(
        {"id": np.arange(len(rows)), "text": [ds.texts[i] for i in rows], "label": [ds.classes[i] for i in noisy]}
    )
    label_index = {c: i for i, c in enumerate(sorted(set(frame["label"]), key=lambda s: (s.casefold(), s)))}
    y_run = np.array([label_index[v] for v in frame["label"]])
    row: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        for mode, fine in (("default", False), ("finetune", True)):
            run, seconds = build(frame, home, fine_tune=fine, seed=seed)
            row[f"{mode}_dep_ap"] = dep_ap(run, is_error)
            row[f"{mode}_cl_ap"] = best_cleanlab(y_run, run.probs("training"), is_error)
            row[f"{mode}_seconds"] = seconds
            row[f"{mode}_train_acc"] = float((run.probs("training").argmax(1) == y_run).mean())
    return row


def time_full_size(n: int) -> tuple[float, int]:
    """Seconds of one fine-tuning epoch (plus scoring) on ``n`` BANKING77 training texts."""
    ds = load_dataset("banking77")
    # A stratified subset needs every class on both sides; near the full size, take every text.
    rows = np.arange(len(ds.y)) if n >= len(ds.y) - len(ds.classes) else subset(ds, n)
    frame = pd.DataFrame(
        {"id": np.arange(len(rows)), "text": [ds.texts[i] for i in rows], "label": [ds.classes[ds.y[i]] for i in rows]}
    )
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        data = home / "full.csv"
        frame.to_csv(data, index=False)
        settings = AutoSettings(text="text", label="label", id="id", fine_tune=True, epochs=1, lexical=False)
        start = time.perf_counter()
        auto(data, settings, home=home, progress=False, log=lambda _m: None)
        return time.perf_counter() - start, len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["trec", "sms_spam", "banking77"])
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--time-n", type=int, default=10_000)
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--fresh", action="store_true", help="measure everything again (else reuse kept rows)")
    args = parser.parse_args()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    done = json.loads(RESULTS.read_text()) if RESULTS.exists() and not args.fresh else {}
    table = []
    for name in args.datasets:
        ds = load_dataset(name)
        embs = embeddings(ds)
        confusion = model_confusion(embs, ds.y, len(ds.classes), seed=0)
        weak = weak_model_probs(ds, embs, seed=0)
        rows = subset(ds, args.n)
        for kind, rate in NOISES:
            results = []
            for seed in range(args.seeds):
                key = f"{name}|{kind}|{rate}|{seed}|{len(rows)}"
                if key not in done:  # measured rows are kept, so a failure later costs only what is left
                    done[key] = evaluate(ds, rows, kind, rate, seed, confusion, weak)
                    RESULTS.write_text(json.dumps(done, indent=1))
                results.append(done[key])
            mean = {k: statistics.fmean(r[k] for r in results) for k in results[0]}
            table.append((name, f"{kind} {rate:.0%}", len(rows), mean))
            print(name, kind, {k: round(v, 3) for k, v in mean.items()}, flush=True)
    seconds, n = time_full_size(args.time_n) if args.time_n else (float("nan"), 0)
    print(f"one fine-tuning epoch on {n} texts: {seconds:.0f} s", flush=True)
    if not args.no_write:
        write_section("finetune", render(table, args.seeds, seconds, n))


def render(table, seeds: int, seconds: float, n: int) -> str:
    lines = [
        "## dq auto --fine-tune: what a fine-tuned encoder buys",
        "",
        f"`bench/bench_finetune.py`: a stratified subset of each dataset's training texts, 10% of the labels "
        f"flipped, {seeds} seed(s). Both modes through `dq.auto.auto` and `run_insights`, both with the lexical view; "
        "embeddings cached (the default mode's time is its training). *Default*: 5-fold cross-fitted heads on "
        "frozen MiniLM embeddings, 5 epochs. *Fine-tune*: MiniLM fine-tuned end to end, 3 epochs, batch 16, "
        "learning rate 5e-5, in sample (DEP pools every epoch). CPU only (2 cores).",
        "",
        "| dataset | noise | n | DEP AP, default | DEP AP, fine-tune | Δ | cleanlab best AP, default / fine-tune probs | train acc (last epoch) default / fine-tune | seconds default / fine-tune |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, kind, n_rows, m in table:
        lines.append(
            f"| {name} | {kind.replace('_', '-')} | {n_rows:,} | {m['default_dep_ap']:.3f} | **{m['finetune_dep_ap']:.3f}** | "
            f"{m['finetune_dep_ap'] - m['default_dep_ap']:+.3f} | {m['default_cl_ap']:.3f} / {m['finetune_cl_ap']:.3f} | "
            f"{m['default_train_acc']:.3f} / {m['finetune_train_acc']:.3f} | {m['default_seconds']:.0f} / {m['finetune_seconds']:.0f} |"
        )
    if n:
        lines += [
            "",
            f"Cost at full size: one fine-tuning epoch (training + scoring every text) on {n:,} BANKING77 texts took "
            f"{seconds:.0f} s ({seconds / 60:.1f} min) on this machine's CPU; the default 3 epochs take about "
            f"{3 * seconds / 60:.0f} min (three such epochs; the embedding and the lexical model add about a minute).",
        ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
