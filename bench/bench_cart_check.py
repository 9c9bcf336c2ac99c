"""What the edits cart's integrity check costs when a process first opens a large cart.

``--setup`` fills a cart with 100,000 relabels of the 100k-sample synthetic run (one batch, as
"relabel all filtered" would). ``--open`` is what ``dq export`` does with the cart: open it and
read the split's active edits; ``--open --seen`` does the same in a process that already saw
the file whole (the integrity check is skipped: the state a console process is in after its first
open). Time the two as whole processes, in turn::

    python bench/bench_cart_check.py --setup
    <timer> --vs 'python bench/bench_cart_check.py --open --seen' -- python bench/bench_cart_check.py --open

and the figures go to docs/benchmarks.md ("Edits cart integrity check").
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

DEFAULT_RUN = Path("/tmp/dq-bench-home/runs/synthetic/synth-v1-n100000-c20-d384-e3-noise0.1-s0")
DEFAULT_DB = Path("/tmp/dq-bench-cart/edits.db")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, default=DEFAULT_RUN)
    parser.add_argument("--db", type=Path, default=DEFAULT_DB)
    parser.add_argument("--setup", action="store_true", help="fill the cart (100k relabels)")
    parser.add_argument("--open", action="store_true", help="open the cart and read the active edits")
    parser.add_argument("--seen", action="store_true", help="as a process that already saw the cart whole")
    args = parser.parse_args()

    from dq._util import sqlite_backup
    from dq.edits import EditsCart
    from dq.edits.model import Change, run_key
    from dq.store import Run

    run = Run(args.run)
    cart = EditsCart(args.db)
    if args.setup:
        args.db.parent.mkdir(parents=True, exist_ok=True)
        for stale in args.db.parent.glob(args.db.name + "*"):
            stale.unlink()
        ids = run.samples("training", columns=["id"])["id"].astype(str).tolist()
        start = time.perf_counter()
        cart.add(run, "training", [Change(i, "relabel", None, run.labels[0]) for i in ids], author="bench")
        size = args.db.stat().st_size
        print(f"{len(ids):,} relabels in {time.perf_counter() - start:.1f} s; {size / 2**20:.1f} MiB")
    if args.open:
        if args.seen:
            sqlite_backup.seen_whole(args.db)
        active = cart.active(run_key(run), "training")
        assert len(active) > 0


if __name__ == "__main__":
    main()
