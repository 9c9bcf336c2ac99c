"""What every integration shares: one run, written epoch by epoch and split by split.

An integration computes, at the end of each epoch, the embeddings and logits (or probabilities)
of every sample of each split it watches, and hands them to :class:`EpochRun`, which logs the
samples of each split with the first epoch and the outputs at every epoch, then finishes the run.
So no integration repeats the bookkeeping, and every run is complete.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dq._util.validate import as_labels_list, examples, is_int
from dq.config import runs_root
from dq.errors import ValidationError
from dq.splits import is_inference
from dq.store.writer import RunWriter

#: Samples per forward pass when an integration runs the model over a split at the end of an epoch.
INFERENCE_BATCH_SIZE = 64


@dataclass(frozen=True)
class SplitSamples:
    """The samples of one split as they are logged: texts, label names (None for inference), ids."""

    texts: list[str]
    labels: list[str] | None
    ids: list[Any]


def default_run_name() -> str:
    """A run name from the current UTC time, e.g. ``'20250102-130405'``, for integrations given none."""
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S")


def label_names(values: Sequence[Any], class_names: Sequence[str], *, what: str) -> list[str]:
    """Map label values to class names: an int ``i`` is ``class_names[i]``, anything else is ``str(value)``.

    >>> import numpy as np
    >>> label_names([1, "b", np.int64(0)], ["a", "b"], what="labels")
    ['b', 'b', 'a']
    """
    names, bad = [], []
    for value in values:
        if is_int(value):
            if 0 <= value < len(class_names):
                names.append(class_names[int(value)])
            else:
                bad.append(int(value))
        else:
            names.append(str(value))
    if bad:
        raise ValidationError(
            f"The {what} must hold class indices in [0, {len(class_names)}) or class names. "
            f"Got {len(bad)} out-of-range indices ({examples(bad)}) instead."
        )
    return names


def column_samples(
    dataset: Any,
    *,
    split: str,
    text: str,
    label: str,
    id: str,  # noqa: A002 - the vocabulary of dq.log_dataset
    name_labels: Callable[[list[Any]], list[str]],
    decode: Callable[[list[Any]], list[str]] | None = None,
) -> SplitSamples:
    """Read texts, labels and ids from the columns of a Hugging Face ``datasets.Dataset``.

    Texts come from the ``text`` column; without one, from ``decode(input_ids column)`` when
    ``decode`` is given. Labels are ``name_labels(label column)``; the ``inference`` split may
    have none. Ids come from the ``id`` column, else they are the row numbers ``0 .. n-1``.

    >>> import datasets
    >>> ds = datasets.Dataset.from_dict({"text": ["hi", "yo"], "label": [1, 0]})
    >>> names = lambda values: label_names(values, ["a", "b"], what="labels")
    >>> column_samples(ds, split="training", text="text", label="label", id="id", name_labels=names)
    SplitSamples(texts=['hi', 'yo'], labels=['b', 'a'], ids=[0, 1])
    """
    columns = list(getattr(dataset, "column_names", None) or [])
    if not columns:
        raise ValidationError(
            f"The {split} dataset must be a Hugging Face datasets.Dataset with named columns. "
            f"Got {type(dataset).__name__} instead."
        )
    if text in columns:
        texts = [str(t) for t in dataset[text]]
    elif decode is not None and "input_ids" in columns:
        texts = decode(list(dataset["input_ids"]))
    else:
        raise ValidationError(
            f"The {split} dataset must have the text column {text!r} named by text=. Got columns {columns} instead."
        )
    labels = None
    if label in columns:
        labels = name_labels(list(dataset[label]))
    elif not is_inference(split):
        raise ValidationError(
            f"The {split} dataset must have the label column {label!r} named by label=. Got columns {columns} instead."
        )
    ids = list(dataset[id]) if id in columns else list(range(len(texts)))
    return SplitSamples(texts=texts, labels=labels, ids=ids)


class EpochRun:
    """The run an integration writes: opened when training starts, one log per epoch, finished at the end.

    Parameters
    ----------
    samples : mapping of str to SplitSamples
        The splits to log at every epoch, by split name.
    labels : sequence of str
        Class names in model output order.
    project, run, home, overwrite
        Where the run goes and whether a finished run there may be replaced, as for ``dq.init``
        (``run`` defaults to the UTC time when training starts).

    Examples
    --------
    >>> import numpy as np, tempfile
    >>> samples = {"training": SplitSamples(texts=["x", "y"], labels=["a", "b"], ids=[0, 1])}
    >>> run = EpochRun(samples, labels=["a", "b"], project="p", run="r", home=tempfile.mkdtemp())
    >>> run.begin()
    >>> for _ in range(2):
    ...     run.log_epoch(lambda split: (np.eye(2), np.eye(2)))
    >>> run.end().name
    'r'
    """

    def __init__(
        self,
        samples: Mapping[str, SplitSamples],
        *,
        labels: Sequence[str],
        project: str,
        run: str | None = None,
        home: str | Path | None = None,
        overwrite: bool = False,
    ) -> None:
        self.samples = dict(samples)
        self.labels = as_labels_list(labels)
        self.project, self.run, self.home, self.overwrite = project, run, home, overwrite
        #: The finished run directory, once :meth:`end` has run.
        self.path: Path | None = None
        self.epoch = 0
        self._writer: RunWriter | None = None

    @property
    def is_open(self) -> bool:
        """Whether the run is open: training has started and not yet ended (in this process)."""
        return self._writer is not None

    def begin(self) -> None:
        """Open the run (training starts): epochs count from 0 again."""
        root = runs_root(Path(self.home).expanduser() if self.home is not None else None)
        run_name = self.run or default_run_name()
        self._writer = RunWriter(
            root / str(self.project) / str(run_name),
            project=self.project,
            run=run_name,
            labels=self.labels,
            overwrite=self.overwrite,
        )
        self.epoch = 0

    def log_epoch(self, outputs: Callable[[str], tuple[Any, Any]], *, kind: str = "logits") -> None:
        """Log this epoch of every split: ``outputs(split)`` gives ``(embs, scores)``, the scores being ``kind``.

        The samples of a split are logged with its first epoch. Does nothing when the run is not open.
        """
        if self._writer is None:
            return
        for split, samples in self.samples.items():
            if self.epoch == 0:
                self._writer.add_samples(texts=samples.texts, labels=samples.labels, ids=samples.ids, split=split)
            embs, scores = outputs(split)
            self._writer.add_outputs(ids=samples.ids, embs=embs, split=split, epoch=self.epoch, **{kind: scores})
        self.epoch += 1

    def end(self) -> Path | None:
        """Finish the open run (check completeness, write it atomically) and return its directory."""
        if self._writer is not None:
            self.path = self._writer.finish()
            self._writer = None
        return self.path


class TrainerRunHooks:
    """What the Hugging Face and SetFit callbacks share: open the run when training begins, finish it at the end.

    Mixed in before ``transformers.TrainerCallback``; the subclass sets ``self.run`` and logs in
    ``on_epoch_end``.
    """

    run: EpochRun

    @property
    def path(self) -> Path | None:
        """The finished run directory, once training has ended."""
        return self.run.path

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if state.is_world_process_zero:  # in distributed training only the main process logs
            self.run.begin()

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.run.end()
