"""Add splits to a finished run: inference sets scored after training, as Galileo users log them.

A finished run is immutable by design (sealed by its manifest, see dq.store.integrity); adding an
inference set writes a new version of the run: the new splits go to a staging directory, the
existing run's files are hard-linked beside them (copied where links are not possible), run.json
is merged and sealed again, and the new version replaces the old in one rename. A crash leaves the
old run as it was. The run's caches are not carried over (its content changed).
"""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dq.errors import ValidationError
from dq.splits import ordered_splits
from dq.store import layout
from dq.store.reader import Run
from dq.store.writer import RunWriter


class SplitAdder(RunWriter):
    """A :class:`RunWriter` whose new splits are added to the finished run at ``run_dir``.

    The run's labels, id type, embedding size and output kind hold for the new splits; a split the
    run already holds is refused.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> w = RunWriter(Path(tempfile.mkdtemp()) / "r", project="p", run="r", labels=["a", "b"])
    >>> w.add_samples(texts=["x", "y"], labels=["a", "b"], split="training")
    >>> w.add_outputs(ids=[0, 1], embs=np.eye(2), probs=[[0.9, 0.1], [0.2, 0.8]], split="training", epoch=0)
    >>> adder = SplitAdder(w.finish())
    >>> adder.add_samples(texts=["z"], split="inference=week_1")
    >>> adder.add_outputs(ids=[0], embs=np.eye(2)[:1], probs=[[0.5, 0.5]], split="inference=week_1", epoch=0)
    >>> Run(adder.finish()).splits
    ['training', 'inference=week_1']
    """

    def __init__(self, run_dir: str | Path) -> None:
        base = Run(run_dir)  # a damaged run is refused here, before anything is written
        super().__init__(
            base.path,
            project=base.project,
            run=base.name,
            labels=base.labels,
            overwrite=True,
            extra=base.meta.get("source") or {},
            training_outputs=base.training_outputs,
        )
        self.base = base
        self._id_type = base.meta.get("id_type")
        self._emb_dim = base.meta.get("embedding_dim")
        self._output_kind = base.meta.get("outputs_logged_as")

    def add_samples(self, *, split: str, **kwargs: Any) -> None:
        if split in self.base.splits:
            raise ValidationError(
                f"The 'split' parameter must name a split the run {self.base.path} does not hold yet "
                f"(it holds {self.base.splits}). Got {split!r} instead."
            )
        super().add_samples(split=split, **kwargs)

    def finish(self) -> Path:
        self._check_open()
        self.check_complete()
        _link_tree(self.base.path, self.staging)
        return super().finish()

    def _run_json(self) -> dict[str, Any]:
        meta = super()._run_json()
        splits = {**self.base.meta["splits"], **meta["splits"]}
        splits = {split: splits[split] for split in ordered_splits(splits)}
        views = self.base.meta.get("views")
        return {
            **meta,
            "splits": splits,
            "epochs": sorted({e for s in splits.values() for e in s["epochs"]}),
            "n_samples": sum(s["n_samples"] for s in splits.values()),
            **({"views": views} if views else {}),
            "created": self.base.meta.get("created", meta["created"]),
            "extended": datetime.now(UTC).isoformat(timespec="seconds"),
            "dq_version": meta["dq_version"],
        }


def _link_tree(source: Path, target: Path) -> None:
    """Hard-link (else copy) the data files of the run at ``source`` into ``target`` (run.json and
    the caches stay behind: they are written anew)."""
    for directory in (layout.SAMPLES_DIR, layout.OUTPUTS_DIR, layout.EMBEDDINGS_DIR, layout.VIEWS_DIR):
        root = source / directory
        if not root.is_dir():
            continue
        for path in sorted(root.rglob("*")):
            if not path.is_file():
                continue
            dest = target / path.relative_to(source)
            dest.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(path, dest)
            except OSError:
                shutil.copy2(path, dest)
