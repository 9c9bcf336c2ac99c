"""dq auto on the full BANKING77 training set against a bare sentence-transformers encode.

Both run in this process with the model already loaded, alternating (bare, auto, auto, bare, ...)
so drift on a noisy machine hits both. dq auto starts each time from an empty cache (a fresh
DQ_HOME), so it embeds every text. Target: overhead beyond embedding <= 15%.

    .venv/bin/python bench/bench_auto.py [--reps 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import pandas as pd  # noqa: E402
from _report import write_section  # noqa: E402

from dq.auto.demo import DATA_DIR  # noqa: E402
from dq.auto.embed import load_model  # noqa: E402
from dq.auto.pipeline import AutoSettings, auto  # noqa: E402
from dq.config import CONFIG  # noqa: E402

TARGET_OVERHEAD = 0.15


def bare_encode(model, texts: list[str]) -> float:
    start = time.perf_counter()
    model.encode(
        texts,
        batch_size=CONFIG.embed_batch_size,
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=False,
    )
    return time.perf_counter() - start


def dq_auto(data: Path) -> float:
    with tempfile.TemporaryDirectory() as home:
        start = time.perf_counter()
        auto(data, AutoSettings(text="text", label="category"), home=Path(home), progress=False, log=lambda _msg: None)
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=2)
    args = parser.parse_args()
    data = DATA_DIR / "train.csv"
    texts = pd.read_csv(data, dtype=str, keep_default_na=False)["text"].tolist()
    model = load_model()
    model.encode(texts[:256], batch_size=CONFIG.embed_batch_size)  # warm-up: first-call costs out
    bare, full = [], []
    for rep in range(args.reps):
        order = (bare_encode, dq_auto) if rep % 2 == 0 else (dq_auto, bare_encode)
        for fn in order:
            seconds = fn(model, texts) if fn is bare_encode else fn(data)
            (bare if fn is bare_encode else full).append(seconds)
            print(f"rep {rep}: {fn.__name__:<12} {seconds:6.1f} s", flush=True)
    b, f = statistics.median(bare), statistics.median(full)
    overhead = f / b - 1
    verdict = "met" if overhead <= TARGET_OVERHEAD else "MISSED"
    print(f"bare encode {b:.1f} s, dq auto {f:.1f} s, overhead {overhead:+.1%} (target <= 15%: {verdict})")
    write_section(
        "auto",
        f"""## dq auto vs bare embedding (issue 3)

`bench/bench_auto.py`: the full BANKING77 training set ({len(texts):,} texts), median of {args.reps}
alternating repetitions in one process, model loaded beforehand. dq auto = read + validate the
CSV, embed every text (empty cache), train 5 cross-fitted heads for 5 epochs, write the run
(samples + 5 epochs of probabilities and embeddings) and finish it atomically.

| step | seconds |
|---|---|
| bare `SentenceTransformer.encode` of the same texts | {b:.1f} |
| `dq auto` end to end | {f:.1f} |
| **overhead beyond embedding** | **{overhead:+.1%}** (target ≤ 15%: {verdict}) |

All repetitions (s): bare {", ".join(f"{x:.1f}" for x in bare)}; dq auto {", ".join(f"{x:.1f}" for x in full)}.""",
    )


if __name__ == "__main__":
    main()
