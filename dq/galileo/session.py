"""The state of a ``dataquality``-style logging session: the run being logged, its labels, the
current split, epoch and inference set, and the samples waiting for labels.

Galileo's client lets a notebook log its data before it names the classes
(``log_dataset`` then ``set_labels_for_run``) and picks the split and epoch up from the session
(``set_split``, ``set_epoch``). dq's :class:`~dq.store.writer.RunWriter` needs the class names
first, so batches logged before ``set_labels_for_run`` wait here, in memory, and are written as
soon as the labels are known. Everything else goes straight to the writer: one store, one run format.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from dq._util.validate import as_labels_list, as_list, as_non_negative_int, examples, is_int, plain
from dq.config import runs_root
from dq.errors import RunStateError, ValidationError
from dq.splits import INFERENCE, TEST, TRAINING, VALIDATION, inference_split, is_inference, is_split
from dq.store import layout
from dq.store.extend import SplitAdder
from dq.store.reader import Run
from dq.store.writer import RunWriter

TASK_TYPE = "text_classification"
#: dataquality's split names (its ``Split`` enum's member names) and the split each is stored as.
SPLIT_NAMES: dict[str, str] = {
    "train": TRAINING,
    "training": TRAINING,
    "val": VALIDATION,
    "valid": VALIDATION,
    "validation": VALIDATION,
    "test": TEST,
    "testing": TEST,
    "inference": INFERENCE,
}
_NAME = re.compile(r"[\w \-]+")
_ADJECTIVES = ("brisk", "calm", "eager", "gentle", "lucid", "nimble", "quiet", "steady", "vivid", "witty")
_COLORS = ("amber", "coral", "indigo", "jade", "olive", "russet", "sage", "slate", "teal", "violet")
_ANIMALS = ("badger", "crane", "heron", "ibex", "lynx", "otter", "puffin", "robin", "stoat", "wren")


def split_key(split: Any, inference_name: str | None = None) -> str:
    """The run's split key for a dataquality split name (or ``Split`` member) and inference name.

    >>> split_key("train"), split_key("inference", "week_1")
    ('training', 'inference=week_1')
    """
    name = getattr(split, "value", split)
    if isinstance(name, str) and is_split(name) and is_inference(name) and name != INFERENCE:
        return name  # already a run's key of a named inference set
    canonical = SPLIT_NAMES.get(str(name).strip().lower()) if isinstance(name, str) else None
    if canonical is None:
        raise ValidationError(f"The 'split' parameter must be one of {list(SPLIT_NAMES)}. Got {split!r} instead.")
    if canonical == INFERENCE:
        return inference_split(inference_name)
    return canonical


def default_project() -> str:
    """A made-up project name, ``adjective_color_animal_xxxxx``, as dataquality gives a run without one."""
    token = "".join(random.choices("abcdefghijklmnopqrstuvwxyz0123456789", k=5))
    return "_".join((random.choice(_ADJECTIVES), random.choice(_COLORS), random.choice(_ANIMALS), token))


def default_run(project_dir: Path) -> str:
    """``YYYY-MM-DD_<n>``: today's date and one more than the highest n of today's runs in the project."""
    today = date.today().isoformat()
    taken = [0]
    if project_dir.is_dir():
        for entry in project_dir.iterdir():
            head, _, n = entry.name.rpartition("_")
            if head == today and n.isdigit():
                taken.append(int(n))
    return f"{today}_{max(taken) + 1}"


def check_name(value: Any, *, param: str) -> str:
    """A project or run name as dataquality allows them: letters, digits, spaces, ``-`` and ``_``."""
    if not isinstance(value, str) or not _NAME.fullmatch(value) or not value.strip():
        raise ValidationError(
            f"The '{param}' parameter must hold only letters, digits, spaces, '-' and '_'. Got {value!r} instead."
        )
    return value


@dataclass
class Session:
    """One dataquality-style run being logged (one per process, as in dataquality)."""

    project: str
    run: str
    home: Path | None = None
    labels: list[str] | None = None
    split: str | None = None
    epoch: int | None = None
    #: Where the finished run goes; a finished run already there is overwritten by training data and
    #: extended by inference data (as Galileo does).
    target: Path = field(init=False)
    existing: Run | None = field(init=False, default=None)
    writer: RunWriter | None = field(init=False, default=None)
    #: Sample batches logged before the labels were known: keyword arguments of ``add_samples``.
    pending: list[dict[str, Any]] = field(init=False, default_factory=list)
    #: The ids of each split in logging order (PyTorch's sampler indices are positions in it).
    id_order: dict[str, list[Any]] = field(init=False, default_factory=dict)
    #: Texts by id of each split (embeddings for outputs logged with ``exclude_embs=True``).
    texts: dict[str, dict[Any, str]] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.target = runs_root(self.home) / self.project / self.run
        if (self.target / layout.RUN_JSON).exists():
            self.existing = Run(self.target)
            self.labels = list(self.existing.labels)

    # ------------------------------------------------------------------ labels
    def set_labels(self, labels: Any) -> None:
        """Name the classes in model output order; batches waiting for them are written."""
        values = as_list(labels, param="labels")
        if len(values) == 1:  # one class named: the binary task "not x" / "x", as dataquality reads it
            values = [f"NOT_{values[0]}", values[0]]
        names = as_labels_list(values)
        if self.labels is not None and self.labels != names and (self.writer is not None or self.existing):
            raise ValidationError(
                f"The 'labels' parameter must be the run's labels {examples(self.labels)} in the same order "
                f"(set once per run). Got {examples(names)} instead."
            )
        self.labels = names
        for batch in self.pending:
            self._write_samples(**batch)
        self.pending.clear()

    def label_names(self, values: list[Any]) -> list[str | None]:
        """Label values as class names: an int ``i`` is ``labels[i]``; names pass through."""
        assert self.labels is not None
        out: list[str | None] = []
        bad: list[Any] = []
        for value in values:
            value = plain(value)
            if value is None:
                out.append(None)
            elif is_int(value) and str(int(value)) not in self.labels:
                if 0 <= int(value) < len(self.labels):
                    out.append(self.labels[int(value)])
                else:
                    bad.append(value)
            else:
                out.append(str(value))
        if bad:
            raise ValidationError(
                f"The 'labels' parameter must hold class names or indices in [0, {len(self.labels)}). "
                f"Got {len(bad)} out-of-range indices ({examples(bad)}) instead."
            )
        return out

    # ------------------------------------------------------------------ split and epoch
    def current_split(self, split: Any = None, inference_name: str | None = None) -> str:
        if split is None:
            if self.split is None:
                raise RunStateError("No split is set: pass split=... or call dq.set_split(...) first.")
            if inference_name is not None and is_inference(self.split):
                return inference_split(inference_name)
            return self.split
        return split_key(split, inference_name)

    def current_epoch(self, split: str, epoch: Any = None) -> int:
        if epoch is not None:
            return as_non_negative_int(epoch, param="epoch")
        if self.epoch is not None:
            return self.epoch
        if is_inference(split):
            return 0
        raise RunStateError(f"No epoch is set for split '{split}': pass epoch=... or call dq.set_epoch(...) first.")

    # ------------------------------------------------------------------ samples
    def add_samples(self, *, texts: list[str], labels: list[Any] | None, ids: list[Any], split: str, meta: Any) -> None:
        """Log a batch of samples of ``split`` (waiting for the labels when they are not known yet)."""
        if labels is not None and is_inference(split):
            labels = None  # inference data has no ground truth: a label column is ignored, as in dataquality
        batch = {"texts": texts, "labels": labels, "ids": ids, "split": split, "meta": meta}
        if self.labels is None:
            if ids is None:
                raise ValidationError("The 'ids' parameter must be given. Got None instead.")
            self.pending.append(batch)
        else:
            self._write_samples(**batch)

    def _write_samples(
        self, *, texts: list[str], labels: list[Any] | None, ids: list[Any], split: str, meta: Any
    ) -> None:
        names = self.label_names(list(labels)) if labels is not None else None
        self.writer_for(split).add_samples(texts=texts, labels=names, ids=ids, split=split, meta=meta)
        order = self.id_order.setdefault(split, [])
        ids_list = as_list(ids, param="ids")
        order.extend(ids_list)
        self.texts.setdefault(split, {}).update(zip(ids_list, texts))

    def writer_for(self, split: str) -> RunWriter:
        """The run's writer, opened on first use: a new run, a new version of the existing run
        (training data logged again), or the existing run gaining inference sets."""
        if self.writer is None:
            if self.labels is None:
                raise RunStateError("The run's labels are not set: call dq.set_labels_for_run(labels) first.")
            if self.existing is not None and is_inference(split):
                self.writer = SplitAdder(self.target)
            else:
                self.writer = RunWriter(
                    self.target, project=self.project, run=self.run, labels=self.labels, overwrite=True
                )
        return self.writer

    def abort(self) -> None:
        if self.writer is not None:
            self.writer.abort()
        self.writer = None
        self.pending.clear()
