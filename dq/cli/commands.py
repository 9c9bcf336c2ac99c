"""What each ``dq`` command does once parsed: one ``cmd_*`` function a command, calling the library."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Iterator
from typing import Any


def cmd_auto(args: argparse.Namespace) -> int:
    from dq.auto.pipeline import AutoSettings, auto

    settings = AutoSettings(
        text=args.text_col,
        label=args.label_col,
        id=args.id_col,
        split=args.split_col,
        epochs=args.epochs,
        folds=args.folds,
        seed=args.seed,
        model=args.model,
        lexical=args.lexical,
        fine_tune=args.fine_tune,
    )
    from dq.scale import open_executor, use

    with open_executor(args.executor, args.address) as executor, use(executor):
        result = auto(
            args.data,
            settings,
            project=args.project,
            run=args.run,
            out=args.out,
            progress=not args.quiet,
            log=silent if args.quiet else None,
        )
    print(result.path)
    return 0


def silent(message: str) -> None:
    """The ``log`` of a ``--quiet`` command: progress lines go nowhere (errors still reach stderr)."""


def quiet_libraries() -> None:
    """Silence the progress bars and notes of the model libraries; read when they are first imported."""
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"  # transformers' "Loading weights" bar too
    os.environ["TRANSFORMERS_VERBOSITY"] = "error"
    os.environ["TRANSFORMERS_NO_ADVISORY_WARNINGS"] = "1"


def cmd_demo(args: argparse.Namespace) -> int:
    from dq.auto.demo import build_demo

    print(build_demo(progress=not args.quiet, log=silent if args.quiet else None).path)
    return 0


def cmd_console(args: argparse.Namespace) -> int:
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


def cmd_info(args: argparse.Namespace) -> int:
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


def cmd_verify(args: argparse.Namespace) -> int:
    from dq.store import Run
    from dq.store.integrity import verify_run

    run = Run(args.run_dir)  # run.json and the cheap checks first: a damaged run stops here
    n_files = verify_run(run.path, run.meta)
    print(f"{run.path}: ok ({n_files} files, every byte as recorded when the run finished)")
    return 0


@contextlib.contextmanager
def steps_shown(shown: bool) -> Iterator[None]:
    """While a command runs with ``-v``: print the steps' timings (dq._util.steps) to stderr as they
    end. The handler and the logger's level are taken back afterwards (a process may run several
    commands: tests, notebooks)."""
    import logging

    from dq._util.steps import LOG

    if not shown:
        yield
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("dq: %(message)s"))
    level = LOG.level
    LOG.addHandler(handler)
    LOG.setLevel(logging.INFO)
    try:
        yield
    finally:
        LOG.removeHandler(handler)
        LOG.setLevel(level)


def _insight_settings(args: argparse.Namespace) -> Any:
    from dataclasses import replace

    from dq.insights import InsightSettings

    settings = InsightSettings()
    if getattr(args, "strictness", None) is not None:
        settings = replace(settings, mislabel_strictness=args.strictness)
    return settings


def cmd_insights(args: argparse.Namespace) -> int:
    from dq._util.steps import step
    from dq.insights import insights_file
    from dq.insights.export import check_out_path, export_frame_file
    from dq.insights.maps import split_map
    from dq.store import Run

    check_out_path(args.out)  # fail fast, before minutes of computing
    run, settings = Run(args.run_dir), _insight_settings(args)
    source = insights_file(
        run, args.split, settings=settings, refresh=args.refresh, executor=args.executor, address=args.address
    )
    xy = split_map(run, args.split, settings=settings) if args.with_map else None
    extra = None if xy is None else {"x": xy[:, 0], "y": xy[:, 1]}
    # Batch by batch from the cached file: the split is never one frame, whatever its size.
    with step(f"{args.split}/written to --out"):
        path, n_rows, n_flagged = export_frame_file(source, args.out, extra=extra)
    print(f"{path}: {n_rows:,} samples, {n_flagged:,} likely mislabeled", file=sys.stderr)
    print(path)
    return 0


def cmd_alerts(args: argparse.Namespace) -> int:
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


def cmd_export(args: argparse.Namespace) -> int:
    from dq._util.fileio import check_out_path
    from dq.edits import EditsCart, fix, fix_all
    from dq.edits.export import ALL_SPLITS, write_dataset
    from dq.insights import split_insights
    from dq.store import Run

    check_out_path(args.out)  # fail fast, before reading the run or computing insights
    run = Run(args.run_dir)
    splits = run.splits if args.split == ALL_SPLITS else [args.split]
    insights = None
    if args.auto_fix is not None and args.strictness is not None:
        insights = {s: split_insights(run, s, settings=_insight_settings(args)).frame for s in splits}
    cart = EditsCart(args.db)
    if args.split == ALL_SPLITS:
        result = fix_all(run, cart=cart, auto_fix=args.auto_fix, insights=insights)
    else:
        split_frame = insights[args.split] if insights else None
        result = fix(run, args.split, cart=cart, auto_fix=args.auto_fix, insights=split_frame)
    path = write_dataset(result.frame, args.out)
    print(f"{path}: {result.describe()}", file=sys.stderr)
    print(path)
    return 0


def cmd_labelers(args: argparse.Namespace) -> int:
    from dq._util.fileio import check_out_path
    from dq.edits import EditsCart, labelers_frame
    from dq.edits.export import LABELERS_FORMATS, write_labelers
    from dq.errors import ValidationError
    from dq.store import Run

    check_out_path(args.out, formats=LABELERS_FORMATS)
    run = Run(args.run_dir)
    frame = labelers_frame(run, args.split, cart=EditsCart(args.db), include_flagged=args.all)
    chosen = "marked for labelers in the cart" + (" or likely mislabeled" if args.all else "")
    if frame.empty:
        raise ValidationError(
            f"No sample of split '{args.split}' is {chosen}; nothing was written"
            + ("." if args.all else " (add --all for every likely-mislabeled sample).")
        )
    path = write_labelers(frame, args.out, class_names=run.labels)
    print(f"{path}: {len(frame):,} samples {chosen}", file=sys.stderr)
    print(path)
    return 0


def cmd_push(args: argparse.Namespace) -> int:
    from dq.store.remote import push_run

    print(f"{args.run_dir}: pushed to {push_run(args.run_dir, args.uri)}")
    return 0


def cmd_pull(args: argparse.Namespace) -> int:
    from dq.store.remote import pull_run

    print(pull_run(args.uri, home=args.home, out=args.out))
    return 0


def cmd_runs(args: argparse.Namespace) -> int:
    from dq.store import list_runs

    entries = list_runs()
    if args.json:
        rows: list[dict[str, Any]] = [
            {
                "project": e.project,
                "run": e.run,
                "path": str(e.path),
                "finished": e.finished,
                "created": (e.meta or {}).get("created"),
            }
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
