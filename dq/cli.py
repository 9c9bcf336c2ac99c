"""The ``dq`` command line: it only parses arguments and calls the library.

Every error a user can cause (a ``DQError``) is printed as one line on stderr with exit status 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line, like every other dq error."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _cmd_auto(args: argparse.Namespace) -> int:
    from dq.auto import AutoSettings, auto

    settings = AutoSettings(text=args.text_col, label=args.label_col, id=args.id_col,
                            split=args.split_col, epochs=args.epochs, folds=args.folds,
                            seed=args.seed, model=args.model)
    result = auto(args.data, settings, project=args.project, run=args.run, out=args.out,
                  progress=not args.quiet, log=_silent if args.quiet else None)
    print(result.path)
    return 0


def _silent(message: str) -> None:
    """The ``log`` of a ``--quiet`` command: progress lines go nowhere (errors still reach stderr)."""


def _quiet_libraries() -> None:
    """Silence the progress bars and notes of the model libraries; read when they are first imported."""
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"  # transformers' "Loading weights" bar too
    os.environ["TRANSFORMERS_VERBOSITY"] = "error"
    os.environ["TRANSFORMERS_NO_ADVISORY_WARNINGS"] = "1"


def _cmd_demo(args: argparse.Namespace) -> int:
    from dq.demo import build_demo

    print(build_demo(progress=not args.quiet, log=_silent if args.quiet else None).path)
    return 0


def _cmd_console(args: argparse.Namespace) -> int:
    import importlib.util

    from dq.errors import ValidationError

    # The console is its own package (dq never imports streamlit): find it without importing it.
    if importlib.util.find_spec("dq_console") is None:
        raise ValidationError("The console is not installed beside dq: reinstall dq-studio (pip install dq-studio).")
    argv = [sys.executable, "-m", "dq_console.serve", "--host", args.host, "--port", str(args.port)]
    if args.home is not None:
        argv += ["--home", str(args.home)]
    sys.stdout.flush()
    os.execv(sys.executable, argv)  # the server owns the process from here: Ctrl-C stops it directly
    return 0  # pragma: no cover - execv does not return


def _port(value: str) -> int:
    port = _positive(value)
    if port > 65535:
        raise argparse.ArgumentTypeError(f"expected a port number in [1, 65535], got {port}")
    return port


def _cmd_info(args: argparse.Namespace) -> int:
    from dq.store import Run

    run = Run(args.run_dir)
    if args.json:
        print(json.dumps({"path": str(run.path), **run.meta}, indent=2, ensure_ascii=False))
        return 0
    print(f"run:      {run.project}/{run.name}")
    print(f"path:     {run.path}")
    print(f"created:  {run.meta['created']}  (dq {run.meta['dq_version']})")
    print(f"labels:   {len(run.labels)}: {', '.join(run.labels)}")
    print(f"embedding dim: {run.meta['embedding_dim']}")
    print("splits:")
    for split in run.splits:
        epochs = run.epochs(split)
        print(f"  {split:<11} {run.n_samples(split):>9,} samples   epochs {_span(epochs)}")
    return 0


def _insight_settings(args: argparse.Namespace) -> Any:
    from dataclasses import replace

    from dq.insights import InsightSettings

    settings = InsightSettings()
    if getattr(args, "strictness", None) is not None:
        settings = replace(settings, mislabel_strictness=args.strictness)
    return settings


def _cmd_insights(args: argparse.Namespace) -> int:
    from dq.insights import split_insights
    from dq.insights.export import check_out_path, write_frame

    check_out_path(args.out)  # fail fast, before minutes of computing
    result = split_insights(args.run_dir, args.split, settings=_insight_settings(args), refresh=args.refresh,
                            with_map=args.with_map)
    path = write_frame(result.frame, args.out)
    n_flagged = int(result.frame["is_mislabeled"].sum())
    print(f"{path}: {len(result.frame):,} samples, {n_flagged:,} likely mislabeled", file=sys.stderr)
    print(path)
    return 0


def _cmd_alerts(args: argparse.Namespace) -> int:
    from dq.insights import run_insights
    from dq.insights.filters import describe_filter

    results = run_insights(args.run_dir, settings=_insight_settings(args), refresh=args.refresh)
    splits = [args.split] if args.split else list(results)
    for split in splits:
        if split not in results:
            from dq.errors import ValidationError

            raise ValidationError(
                f"The '--split' option must be one of this run's splits {list(results)}. Got {split!r} instead."
            )
    if args.json:
        print(json.dumps({s: [a.to_dict() for a in results[s].alerts] for s in splits}, indent=2, ensure_ascii=False))
        return 0
    for split in splits:
        print(f"{split}: {len(results[split].alerts)} alerts")
        for a in results[split].alerts:
            print(f"  [{a.severity:<6}] {a.kind:<24} {a.message}  ({describe_filter(a.filter)})")
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from dq.edits import EditsCart, fix
    from dq.edits.export import write_dataset
    from dq.fileio import check_out_path
    from dq.store import Run

    from dq.insights import split_insights

    check_out_path(args.out)  # fail fast, before reading the run or computing insights
    run = Run(args.run_dir)
    insights = None
    if args.auto_fix is not None and args.strictness is not None:
        insights = split_insights(run, args.split, settings=_insight_settings(args)).frame
    result = fix(run, args.split, cart=EditsCart(args.db), auto_fix=args.auto_fix, insights=insights)
    path = write_dataset(result.frame, args.out)
    print(f"{path}: {result.describe()}", file=sys.stderr)
    print(path)
    return 0


def _cmd_labelers(args: argparse.Namespace) -> int:
    from dq.edits import EditsCart, labelers_frame
    from dq.edits.export import LABELERS_FORMATS, write_labelers
    from dq.errors import ValidationError
    from dq.fileio import check_out_path
    from dq.store import Run

    check_out_path(args.out, formats=LABELERS_FORMATS)
    run = Run(args.run_dir)
    frame = labelers_frame(run, args.split, cart=EditsCart(args.db), include_flagged=args.all)
    chosen = "marked for labelers in the cart" + (" or likely mislabeled" if args.all else "")
    if frame.empty:
        raise ValidationError(f"No sample of split '{args.split}' is {chosen}; nothing was written"
                              + ("." if args.all else " (add --all for every likely-mislabeled sample)."))
    path = write_labelers(frame, args.out, labels=run.labels)
    print(f"{path}: {len(frame):,} samples {chosen}", file=sys.stderr)
    print(path)
    return 0


def _cmd_runs(args: argparse.Namespace) -> int:
    from dq.store import list_runs

    entries = list_runs()
    if args.json:
        rows: list[dict[str, Any]] = [
            {"project": e.project, "run": e.run, "path": str(e.path), "finished": e.finished,
             "created": (e.meta or {}).get("created")}
            for e in entries
        ]
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return 0
    if not entries:
        print("no runs yet: build the demo with `dq demo` or your own with `dq auto DATA ...`")
    for e in entries:
        state = (e.meta or {}).get("created", "") if e.finished else "UNFINISHED"
        print(f"{e.project}/{e.run}\t{state}\t{e.path}")
    return 0


def _span(epochs: list[int]) -> str:
    if epochs == list(range(epochs[0], epochs[-1] + 1)) and len(epochs) > 1:
        return f"{epochs[0]}-{epochs[-1]}"
    return ", ".join(map(str, epochs))


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {number}")
    return number


def _add_cart_arguments(p: argparse.ArgumentParser, *, out_help: str) -> None:
    """The arguments of the commands that read the edits cart: run, split, output file, database."""
    p.add_argument("run_dir", help="run directory")
    p.add_argument("--split", default="training", help="split (default: training)")
    p.add_argument("--out", required=True, help=out_help)
    p.add_argument("--db", type=Path, metavar="PATH", help="edits cart database (default: $DQ_HOME/edits.db)")


def build_parser() -> argparse.ArgumentParser:
    """The parser of every ``dq`` command, each with help and an example."""
    fmt = argparse.RawDescriptionHelpFormatter
    parser = _Parser(prog="dq", description="dq studio: find and fix bad training data for text classification.",
                     epilog="example:\n  dq demo && make run", formatter_class=fmt)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser(
        "auto", help="build a run from a CSV/TSV/JSONL/Parquet file", formatter_class=fmt,
        description="Embed the texts, train cross-fitted classifier heads and log every epoch as a run.",
        epilog="example:\n  dq auto reviews.csv --text-col review --label-col sentiment --split-col split",
    )
    p.add_argument("data", help="dataset file: .csv, .tsv, .jsonl/.ndjson or .parquet")
    p.add_argument("--text-col", required=True, help="column holding the text")
    p.add_argument("--label-col", required=True, help="column holding the label (kept as a string)")
    p.add_argument("--id-col", help="column of unique sample ids (default: row number)")
    p.add_argument("--split-col", help="column of split names (train/validation/test/inference); default: all training")
    p.add_argument("--project", help="project name (default: auto)")
    p.add_argument("--run", help="run name (default: the file's stem)")
    p.add_argument("--out", help="write the run exactly to this directory")
    p.add_argument("--epochs", type=_positive, default=None, help="epochs of the classifier head (default: 5)")
    p.add_argument("--folds", type=_positive, default=None, help="cross-fitting folds (default: 5)")
    p.add_argument("--seed", type=int, default=None, help="random seed (default: 0); same seed, same run")
    p.add_argument("--model", help="sentence-transformers model name or local path (default: all-MiniLM-L6-v2, bundled)")
    p.add_argument("--quiet", action="store_true", help="print only the run's path (and errors)")
    p.set_defaults(func=_cmd_auto)

    p = sub.add_parser("demo", help="build the bundled BANKING77 demo run once and print its path",
                       formatter_class=fmt, epilog="example:\n  dq demo")
    p.add_argument("--quiet", action="store_true", help="print only the run's path (and errors)")
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser(
        "console", help="serve the console (the same as make run) on http://127.0.0.1:8501",
        formatter_class=fmt,
        description="Serve the dq studio console over the runs under --home. It listens on this machine only "
                    "(127.0.0.1) unless --host names another address; stop it with Ctrl-C.",
        epilog="example:\n  dq demo && dq console --port 8502",
    )
    p.add_argument("--home", type=Path, metavar="DIR", help="dq's files: runs, edits cart, caches "
                   "(default: $DQ_HOME or ~/.dq)")
    p.add_argument("--port", type=_port, default=8501, help="port (default: 8501)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1; "
                   "0.0.0.0 for every interface)")
    p.set_defaults(func=_cmd_console)

    p = sub.add_parser("info", help="labels, splits, sizes, epochs and creation time of a run",
                       formatter_class=fmt, epilog="example:\n  dq info ~/.dq/runs/demo/banking77 --json")
    p.add_argument("run_dir", help="run directory")
    p.add_argument("--json", action="store_true", help="print run.json (with the path) as JSON")
    p.set_defaults(func=_cmd_info)

    p = sub.add_parser(
        "insights", help="per-sample insights of one split (DEP, likely mislabeled, clusters, ...) to a file",
        formatter_class=fmt,
        description="Compute (or read from the cache beside the run) the insights of a split and write the "
                    "per-sample table: id, text, label, pred, probs (list in the run's label order), dep, "
                    "dep_bucket, is_mislabeled, suggested_label, cluster, is_near_duplicate, is_outlier, ...",
        epilog="example:\n  dq insights ~/.dq/runs/demo/banking77 --split training --out insights.parquet",
    )
    p.add_argument("run_dir", help="run directory")
    p.add_argument("--split", default="training", help="split to export (default: training)")
    p.add_argument("--out", required=True, help="output file: .parquet, .csv or .jsonl")
    p.add_argument("--strictness", type=float, help="likely-mislabeled knob in [0, 1]: 0 = recall (flag as many as "
                   "the estimated errors), 1 = precision (half as many); default 0.3")
    p.add_argument("--refresh", action="store_true", help="recompute instead of reading the cache")
    p.add_argument("--with-map", action="store_true", help="add the 2-D map coordinates as columns x, y (UMAP; slower)")
    p.set_defaults(func=_cmd_insights)

    p = sub.add_parser("alerts", help="the alerts of a run (likely mislabeled, duplicates, weak classes, ...)",
                       formatter_class=fmt, epilog="example:\n  dq alerts ~/.dq/runs/demo/banking77 --split test --json")
    p.add_argument("run_dir", help="run directory")
    p.add_argument("--split", help="only this split (default: every split)")
    p.add_argument("--json", action="store_true", help="print the alerts as JSON, per split")
    p.add_argument("--strictness", type=float, help="likely-mislabeled knob in [0, 1] (default 0.3)")
    p.add_argument("--refresh", action="store_true", help="recompute instead of reading the cache")
    p.set_defaults(func=_cmd_alerts)

    p = sub.add_parser(
        "export", help="write the fixed dataset of a split: the edits cart applied, optionally auto-fixed",
        formatter_class=fmt,
        description="Apply the edits cart (relabels, removals, text edits) to a split and write it with the "
                    "original columns, removed rows dropped. --auto-fix also fixes the likely-mislabeled samples "
                    "the cart does not touch: relabel (to the suggested label, where there is a confident one) "
                    "or remove.",
        epilog="example:\n  dq export ~/.dq/runs/demo/banking77 --split training --out fixed.csv --auto-fix relabel",
    )
    _add_cart_arguments(p, out_help="output file: .csv, .parquet or .jsonl")
    p.add_argument("--auto-fix", choices=["relabel", "remove"],
                   help="also fix every likely-mislabeled sample the cart does not touch")
    p.add_argument("--strictness", type=float, help="with --auto-fix: the likely-mislabeled knob in [0, 1] "
                   "(default 0.3); 0 fixes more samples (see docs/benchmarks.md, 'fix')")
    p.set_defaults(func=_cmd_export)

    p = sub.add_parser(
        "labelers", help="write the samples to send to human labelers: Label Studio tasks (.json) or a CSV",
        formatter_class=fmt,
        description="Write the samples the edits cart marked 'send to labelers' (--all: also every likely-"
                    "mislabeled sample), highest DEP first, with current texts and labels. A .json file holds "
                    "Label Studio import tasks pre-annotated with the current label (score = DEP); a .csv file "
                    "holds id, text, label, suggested_label, dep.",
        epilog="example:\n  dq labelers ~/.dq/runs/demo/banking77 --split training --out review.json --all",
    )
    _add_cart_arguments(p, out_help="output file: .json (Label Studio) or .csv")
    p.add_argument("--all", action="store_true", help="also every likely-mislabeled sample, not only the marked ones")
    p.set_defaults(func=_cmd_labelers)

    p = sub.add_parser("runs", help="list the runs under $DQ_HOME (finished and unfinished)",
                       formatter_class=fmt, epilog="example:\n  dq runs --json")
    p.add_argument("--json", action="store_true", help="print the list as JSON")
    p.set_defaults(func=_cmd_runs)
    return parser


def _fill_auto_defaults(args: argparse.Namespace) -> None:
    from dq.config import CONFIG

    for name, default in (("epochs", CONFIG.auto_epochs), ("folds", CONFIG.auto_folds), ("seed", CONFIG.auto_seed)):
        if getattr(args, name, 0) is None:
            setattr(args, name, default)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``dq`` console script."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from dq.errors import DQError

    args = build_parser().parse_args(argv)
    _fill_auto_defaults(args)
    if getattr(args, "quiet", False):
        _quiet_libraries()
    try:
        return int(args.func(args))
    except DQError as exc:
        print(f"dq {args.command}: error: {' '.join(str(exc).split(chr(10)))}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"dq {args.command}: interrupted; nothing was written", file=sys.stderr)
        return EXIT_INTERRUPTED
    except OSError as exc:
        print(f"dq {args.command}: error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    raise SystemExit(main())
