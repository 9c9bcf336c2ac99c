"""Disk of a dq auto run with its embeddings stored once (run format 2) against the same run with the
embeddings repeated in every epoch's outputs (format 1, as dq auto wrote it before).

The demo run (BANKING77, 13,083 texts, 384-d, dq auto's epochs) is built in a scratch home; the
format-1 copy is written from it by RunWriter, epoch by epoch with the embeddings, so both hold
the very same numbers. Run::

    python bench/bench_run_disk.py

and the results replace the ``run_disk`` section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import write_section  # noqa: E402


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and "_cache" not in f.parts)


def _as_format_1(run, target: Path) -> Path:  # noqa: ANN001
    from dq.store.writer import RunWriter

    writer = RunWriter(
        target, project=run.project, run=run.name, labels=run.labels, training_outputs=run.training_outputs
    )
    for split in run.splits:
        samples = run.samples(split)
        ids = samples["id"].tolist()
        meta = {c: samples[c].tolist() for c in samples.columns if c not in ("id", "text", "label")}
        labels = samples["label"].tolist() if samples["label"].notna().all() else None
        writer.add_samples(texts=samples["text"].tolist(), labels=labels, ids=ids, split=split, meta=meta or None)
        for epoch in run.epochs(split):
            out = run.outputs(split, epoch)
            writer.add_outputs(ids=ids, embs=out.embs, probs=out.probs, split=split, epoch=epoch)
        for view, splits in run.views.items():
            if split in splits:
                writer.add_view(view, ids=np.asarray(ids), probs=run.view_probs(view, split), split=split)
    return writer.finish()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args()
    from dq.auto.demo import build_demo
    from dq.store import Run

    with tempfile.TemporaryDirectory() as tmp:
        run = Run(build_demo(home=Path(tmp), progress=False, log=lambda msg: None).path)
        old = Run(_as_format_1(run, Path(tmp) / "format-1"))
        for split in run.splits:  # the same numbers in both
            np.testing.assert_array_equal(run.embs(split, run.epochs(split)[0]), old.embs(split, old.epochs(split)[-1]))
        new_total, old_total = _size(run.path), _size(old.path)
        parts = {d: _size(run.path / d) for d in ("samples", "embeddings", "outputs", "views")}
        old_outputs = _size(old.path / "outputs")
        n = sum(run.n_samples(s) for s in run.splits)
        epochs = len(run.epochs("training"))
    body = "\n".join(
        [
            "## Disk of a dq auto run: embeddings stored once",
            "",
            f"The demo run (BANKING77, {n:,} texts, {run.meta['embedding_dim']}-d embeddings, {epochs} epochs, "
            f"{len(run.labels)} classes) as dq auto writes it now (run format 2: the frozen sentence embeddings once "
            "per split) and the same numbers in format 1 (the embeddings in every epoch's outputs, as dq auto wrote "
            "them before), both written by RunWriter (`bench/bench_run_disk.py`).",
            "",
            "| | format 1 (per epoch) MB | format 2 (once) MB |",
            "|---|---|---|",
            f"| samples | {parts['samples'] / 1e6:.1f} | {parts['samples'] / 1e6:.1f} |",
            f"| embeddings + outputs | {old_outputs / 1e6:.1f} | {(parts['embeddings'] + parts['outputs']) / 1e6:.1f} |",
            f"| views | {parts['views'] / 1e6:.1f} | {parts['views'] / 1e6:.1f} |",
            f"| whole run | {old_total / 1e6:.1f} | {new_total / 1e6:.1f} |",
            "",
            f"The run takes {new_total / old_total:.2f}× the disk it took ({old_total / new_total:.1f}× less): one "
            f"copy of the embeddings instead of {epochs}; what remains per epoch is the probabilities. float16 on "
            "disk (half again for the embeddings) is not done: it would move neighbours at near-ties, not measured.",
        ]
    )
    print(body)
    if not args.no_write:
        write_section("run_disk", body)


if __name__ == "__main__":
    main()
