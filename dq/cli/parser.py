"""The parser of every ``dq`` command, each with help and an example."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import NoReturn

from dq.cli import commands, team
from dq.config import CONSOLE_HOST, CONSOLE_PORT, DEFAULT_STRICTNESS
from dq.scale import EXECUTORS

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line, like every other dq error."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _port(value: str) -> int:
    port = _positive(value)
    if port > 65535:
        raise argparse.ArgumentTypeError(f"expected a port number in [1, 65535], got {port}")
    return port


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {number}")
    return number


def _add_cart_arguments(
    p: argparse.ArgumentParser, *, out_help: str, split_help: str = "split (default: training)"
) -> None:
    """The arguments of the commands that read the edits cart: run, split, output file, database."""
    p.add_argument("run_dir", help="run directory")
    p.add_argument("--split", default="training", help=split_help)
    p.add_argument("--out", required=True, help=out_help)
    p.add_argument("--db", type=Path, metavar="PATH", help="edits cart database (default: $DQ_HOME/edits.db)")


def _add_executor(p: argparse.ArgumentParser) -> None:
    """Where the batch work (embedding, nearest-neighbour search) runs: here, on Ray or on Dask."""
    p.add_argument(
        "--executor",
        choices=EXECUTORS,
        default="local",
        help="run the batch steps here (local, default), on Ray or on Dask (pip extras [ray], [dask]); "
        "without --address a local cluster of 2 workers is started and stopped",
    )
    p.add_argument(
        "--address", help="the cluster to use: a Dask scheduler (tcp://host:8786) or Ray (auto, ray://host:10001)"
    )
    p.add_argument(
        "-v", "--verbose", action="store_true", help="print each step's seconds and the peak memory so far to stderr"
    )


def build_parser() -> argparse.ArgumentParser:
    """The parser of every ``dq`` command, each with help and an example."""
    fmt = argparse.RawDescriptionHelpFormatter
    parser = _Parser(
        prog="dq",
        description="dq studio: find and fix bad training data for text classification.",
        epilog="example:\n  dq demo && make run",
        formatter_class=fmt,
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser(
        "auto",
        help="build a run from a CSV/TSV/JSONL/Parquet file",
        formatter_class=fmt,
        description="Embed the texts, train cross-fitted classifier heads and log every epoch as a run, with a "
        "cross-fitted lexical model beside them.",
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
    p.add_argument(
        "--epochs", type=_positive, default=None, help="epochs of the classifier head (default: 5; 3 with --fine-tune)"
    )
    p.add_argument("--folds", type=_positive, default=None, help="cross-fitting folds (default: 5)")
    p.add_argument("--seed", type=int, default=None, help="random seed (default: 0); same seed, same run")
    p.add_argument(
        "--model", help="sentence-transformers model name or local path (default: all-MiniLM-L6-v2, bundled)"
    )
    p.add_argument(
        "--fine-tune",
        action="store_true",
        help="fine-tune the encoder end to end (in sample, 3 epochs by default) instead of heads on frozen "
        "embeddings: a stronger model, on a GPU when present; on 2 CPU cores about 15 min for 10k short texts",
    )
    p.add_argument(
        "--no-lexical",
        dest="lexical",
        action="store_false",
        help="skip the lexical model (TF-IDF n-grams + logistic regression) that DEP weighs in as a second view",
    )
    _add_executor(p)
    p.add_argument("--quiet", action="store_true", help="print only the run's path (and errors)")
    p.set_defaults(func=commands.cmd_auto)

    p = sub.add_parser(
        "demo",
        help="build the bundled BANKING77 demo run once and print its path",
        formatter_class=fmt,
        epilog="example:\n  dq demo",
    )
    p.add_argument("--quiet", action="store_true", help="print only the run's path (and errors)")
    p.set_defaults(func=commands.cmd_demo)

    p = sub.add_parser(
        "console",
        help=f"serve the console (the same as make run) on http://{CONSOLE_HOST}:{CONSOLE_PORT}",
        formatter_class=fmt,
        description="Serve the dq studio console over the runs under --home. It listens on this machine only "
        f"({CONSOLE_HOST}) unless --host names another address; stop it with Ctrl-C.",
        epilog="example:\n  dq demo && dq console --port 8502",
    )
    p.add_argument(
        "--home", type=Path, metavar="DIR", help="dq's files: runs, edits cart, caches (default: $DQ_HOME or ~/.dq)"
    )
    p.add_argument("--port", type=_port, default=CONSOLE_PORT, help=f"port (default: {CONSOLE_PORT})")
    p.add_argument(
        "--host",
        default=CONSOLE_HOST,
        help=f"address to listen on (default: {CONSOLE_HOST}; 0.0.0.0 for every interface)",
    )
    p.set_defaults(func=commands.cmd_console)

    p = sub.add_parser(
        "info",
        help="labels, splits, sizes, epochs and creation time of a run",
        formatter_class=fmt,
        epilog="example:\n  dq info ~/.dq/runs/demo/banking77 --json",
    )
    p.add_argument("run_dir", help="run directory")
    p.add_argument("--json", action="store_true", help="print run.json (with the path) as JSON")
    p.set_defaults(func=commands.cmd_info)

    p = sub.add_parser(
        "verify",
        help="check every byte of a run against what was recorded when it finished (exit status 2 if damaged)",
        formatter_class=fmt,
        epilog="example:\n  dq verify ~/.dq/runs/demo/banking77",
    )
    p.add_argument("run_dir", help="run directory")
    p.set_defaults(func=commands.cmd_verify)

    p = sub.add_parser(
        "insights",
        help="per-sample insights of one split (DEP, likely mislabeled, clusters, ...) to a file",
        formatter_class=fmt,
        description="Compute (or read from the cache beside the run) the insights of a split and write the "
        "per-sample table: id, text, label, pred, probs (list in the run's label order), dep, "
        "dep_bucket, is_mislabeled, suggested_label, cluster, is_near_duplicate, is_outlier, ...",
        epilog="example:\n  dq insights ~/.dq/runs/demo/banking77 --split training --out insights.parquet",
    )
    p.add_argument("run_dir", help="run directory")
    p.add_argument("--split", default="training", help="split to export (default: training)")
    p.add_argument("--out", required=True, help="output file: .parquet, .csv or .jsonl")
    p.add_argument(
        "--strictness",
        type=float,
        help="likely-mislabeled knob in [0, 1]: 0 = recall (flag as many as "
        f"the estimated errors), 1 = precision (half as many); default {DEFAULT_STRICTNESS}",
    )
    p.add_argument("--refresh", action="store_true", help="recompute instead of reading the cache")
    p.add_argument("--with-map", action="store_true", help="add the 2-D map coordinates as columns x, y (UMAP; slower)")
    _add_executor(p)
    p.set_defaults(func=commands.cmd_insights)

    p = sub.add_parser(
        "alerts",
        help="the alerts of a run (likely mislabeled, duplicates, weak classes, ...)",
        formatter_class=fmt,
        epilog="example:\n  dq alerts ~/.dq/runs/demo/banking77 --split test --json",
    )
    p.add_argument("run_dir", help="run directory")
    p.add_argument("--split", help="only this split (default: every split)")
    p.add_argument("--json", action="store_true", help="print the alerts as JSON, per split")
    p.add_argument("--strictness", type=float, help=f"likely-mislabeled knob in [0, 1] (default {DEFAULT_STRICTNESS})")
    p.add_argument("--refresh", action="store_true", help="recompute instead of reading the cache")
    p.set_defaults(func=commands.cmd_alerts)

    p = sub.add_parser(
        "export",
        help="write the fixed dataset of a split: the edits cart applied, optionally auto-fixed",
        formatter_class=fmt,
        description="Apply the edits cart (relabels, removals, text edits) to a split and write it with the "
        "original columns, removed rows dropped. --auto-fix also fixes the likely-mislabeled samples "
        "the cart does not touch: relabel (to the suggested label, where there is a confident one) "
        "or remove. --split all writes every split in one file (a drop-in replacement for the input file: "
        "dq auto's split column keeps the file's own values).",
        epilog="example:\n  dq export ~/.dq/runs/demo/banking77 --split training --out fixed.csv --auto-fix relabel\n"
        "  dq export ~/.dq/runs/auto/reviews --split all --out reviews-fixed.csv",
    )
    _add_cart_arguments(
        p, out_help="output file: .csv, .parquet or .jsonl", split_help="split, or all (default: training)"
    )
    p.add_argument(
        "--auto-fix",
        choices=["relabel", "remove"],
        help="also fix every likely-mislabeled sample the cart does not touch",
    )
    p.add_argument(
        "--strictness",
        type=float,
        help="with --auto-fix: the likely-mislabeled knob in [0, 1] "
        f"(default {DEFAULT_STRICTNESS}); 0 fixes more samples (see docs/benchmarks.md, 'fix')",
    )
    p.set_defaults(func=commands.cmd_export)

    p = sub.add_parser(
        "labelers",
        help="write the samples to send to human labelers: Label Studio tasks (.json) or a CSV",
        formatter_class=fmt,
        description="Write the samples the edits cart marked 'send to labelers' (--all: also every likely-"
        "mislabeled sample), highest DEP first, with current texts and labels. A .json file holds "
        "Label Studio import tasks pre-annotated with the current label (score = DEP); a .csv file "
        "holds id, text, label, suggested_label, dep.",
        epilog="example:\n  dq labelers ~/.dq/runs/demo/banking77 --split training --out review.json --all",
    )
    _add_cart_arguments(p, out_help="output file: .json (Label Studio) or .csv")
    p.add_argument("--all", action="store_true", help="also every likely-mislabeled sample, not only the marked ones")
    p.set_defaults(func=commands.cmd_labelers)

    p = sub.add_parser(
        "runs",
        help="list the runs under $DQ_HOME (finished and unfinished)",
        formatter_class=fmt,
        epilog="example:\n  dq runs --json",
    )
    p.add_argument("--json", action="store_true", help="print the list as JSON")
    p.set_defaults(func=commands.cmd_runs)

    p = sub.add_parser(
        "push",
        help="copy a finished run to object storage (s3://, gs://, hdfs://, file://), its insights included",
        formatter_class=fmt,
        description="Check the run, then copy every file of it (run.json last) to URI, which must hold no files "
        "yet. Options go in the URI (?region=..., ?endpoint_override=host:port&scheme=http for an "
        "S3-compatible store); credentials come from the environment (AWS_ACCESS_KEY_ID, ...).",
        epilog="example:\n  dq push ~/.dq/runs/auto/big s3://team-bucket/dq/runs/big",
    )
    p.add_argument("run_dir", help="run directory")
    p.add_argument("uri", help="where the run goes: s3://bucket/path, gs://bucket/path, hdfs://..., file:///path")
    p.set_defaults(func=commands.cmd_push)

    p = sub.add_parser(
        "pull",
        help="copy a run from object storage into the dq home, checked before it appears there",
        formatter_class=fmt,
        description="Copy the run at URI into <home>/runs/<project>/<run> (or exactly to --out), through a hidden "
        "staging directory: it appears only once every file matches the digests its run.json records.",
        epilog="example:\n  dq pull s3://team-bucket/dq/runs/big && dq insights ~/.dq/runs/auto/big --split training",
    )
    p.add_argument("uri", help="where the run is: s3://bucket/path, gs://bucket/path, hdfs://..., file:///path")
    p.add_argument("--home", type=Path, help="the dq home to pull into (default: $DQ_HOME or ~/.dq)")
    p.add_argument("--out", type=Path, help="pull exactly to this directory instead")
    p.set_defaults(func=commands.cmd_pull)
    team.add_commands(sub, fmt, port=_port, positive=_positive)
    return parser
