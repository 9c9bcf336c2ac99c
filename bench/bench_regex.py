"""How long a hostile regular expression takes in the Dataset page's regex filter (target ≤ 1 s).

Times, in one process (median of 5 after a warm-up), ``dq.insights.filters.apply_filter`` with
``{"text": {"regex": pattern}}``:

* ``(a+)+$`` over 2,000 texts of 28 "a"s and a "!" (exponential for a backtracking matcher);
* ``(a+)+$(?!x)`` over the same texts (a look-around: refused);
* ``(a+)+$`` and an ordinary pattern over the 100k texts of the synthetic run's training split.

Python's ``re`` on the first case, for comparison, in a subprocess stopped after 30 s. Run::

    python bench/bench_regex.py

and the results replace the ``regex`` section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import write_section  # noqa: E402

DEFAULT_RUN = Path("/tmp/dq-bench-home/runs/synthetic/synth-v1-n100000-c20-d384-e3-noise0.1-s0")
EVIL = "a" * 28 + "!"
TARGET_S = 1.0
PYTHON_RE_LIMIT_S = 30


def _time(call) -> list[float]:  # noqa: ANN001
    call()
    times = []
    for _ in range(5):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return times


def _filter(frame, pattern: str):  # noqa: ANN001, ANN202
    from dq.errors import ValidationError
    from dq.insights.filters import apply_filter

    def call() -> None:
        try:
            apply_filter(frame, {"text": {"regex": pattern}})
        except ValidationError:
            pass  # refused: what is timed is how fast the answer comes

    return call


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, default=DEFAULT_RUN)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    import pandas as pd

    from dq.store import Run

    evil = pd.DataFrame({"text": [EVIL] * 2_000})
    texts = Run(args.run).samples("training", columns=["text"]) if args.run.exists() else None
    cases = [
        ("`(a+)+$` over 2,000 texts of 28 a's and a !", evil, "(a+)+$"),
        ("`(a+)+$(?!x)` over the same (refused: a look-around)", evil, "(a+)+$(?!x)"),
    ]
    if texts is not None:
        cases += [
            (f"`(a+)+$` over the synthetic run's {len(texts):,} training texts", texts, "(a+)+$"),
            (f"`\\b(refund\\|card)s?\\b` over the same {len(texts):,} texts", texts, r"\b(refund|card)s?\b"),
        ]
    rows = []
    for name, frame, pattern in cases:
        times = _time(_filter(frame, pattern))
        median = statistics.median(times)
        rows.append(
            f"| {name} | {median:.3f} | {min(times):.3f}–{max(times):.3f} | ≤ {TARGET_S:g} | "
            f"{'yes' if median <= TARGET_S else 'no'} |"
        )
        print(rows[-1], flush=True)
    code = f"import re, time; t = time.perf_counter(); [re.search(r'(a+)+$', '{EVIL}') for _ in range(1)]; print(time.perf_counter() - t)"
    try:
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=PYTHON_RE_LIMIT_S)
        python_re = f"{float(out.stdout):.1f} s for one text"
    except subprocess.TimeoutExpired:
        python_re = f"no answer within {PYTHON_RE_LIMIT_S} s for one text (stopped)"
    body = "\n".join(
        [
            "## A hostile regular expression (the Dataset page's regex filter)",
            "",
            '`dq.insights.filters.apply_filter(frame, {"text": {"regex": pattern}})`, as the Dataset page and '
            "find & replace run it (RE2, linear time; look-arounds refused), median of 5 in one process after a "
            "warm-up.",
            "",
            "| case | median s | min–max s | target s | met? |",
            "|---|---|---|---|---|",
            *rows,
            "",
            f"Python's backtracking `re` on `(a+)+$` and one such text: {python_re}.",
        ]
    )
    print(body)
    if not args.no_write:
        write_section("regex", body)


if __name__ == "__main__":
    main()
