"""The logging client: the shape users know from Galileo's ``dataquality``.

>>> import dq, numpy as np, tempfile
>>> path = dq.init(project="news", run="baseline", labels=["sports", "tech"], home=tempfile.mkdtemp())
>>> dq.log_data_samples(texts=["goal!", "new GPU"], labels=["sports", "tech"], ids=[0, 1], split="training")
>>> dq.log_model_outputs(ids=[0, 1], embs=np.eye(2), logits=[[2, 0], [0, 2]], split="training", epoch=0)
>>> dq.finish() == path
True
>>> path.parts[-3:]
('runs', 'news', 'baseline')

One run is open at a time per process; every call validates its arguments and raises
``dq.errors.ValidationError`` naming the argument, what was expected and what was received.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dq._util.validate import examples
from dq.config import CONFIG, IN_SAMPLE, runs_root
from dq.errors import RunStateError, ValidationError
from dq.splits import is_inference
from dq.store.parts import RESERVED_COLUMNS
from dq.store.writer import RunWriter

_current: RunWriter | None = None


def init(
    project: str,
    run: str,
    labels: Any,
    home: str | Path | None = None,
    *,
    overwrite: bool = False,
    training_outputs: str = IN_SAMPLE,
) -> Path:
    """Start logging a run; returns the directory the finished run will have.

    ``labels`` are the class names in model output order (column ``j`` of logits/probs is
    ``labels[j]``). ``home`` defaults to ``$DQ_HOME`` or ``~/.dq``. ``training_outputs`` says how
    the training split's outputs are produced: ``"in_sample"`` (default: by the model being
    trained on those samples) or ``"cross_fitted"`` (by models that never saw them, as K-fold
    training gives); DEP reads the training dynamics of in-sample runs. An unfinished run that
    was open in this process is discarded.
    """
    global _current
    if _current is not None:
        _current.abort()
    target = runs_root(Path(home).expanduser() if home is not None else None) / str(project) / str(run)
    _current = RunWriter(
        target, project=project, run=run, labels=labels, overwrite=overwrite, training_outputs=training_outputs
    )
    return target


def _writer() -> RunWriter:
    if _current is None:
        raise RunStateError("No run is open: call dq.init(project=..., run=..., labels=...) first.")
    return _current


def log_data_samples(
    *,
    texts: Any,
    labels: Any = None,
    ids: Any = None,
    split: str,
    meta: dict[str, Any] | None = None,
) -> None:
    """Log a batch of samples of one split.

    ``labels`` are names from the run's label list (compared as strings); they may be omitted
    only for the ``inference`` split. ``ids`` are unique per split, all ints or all strings;
    when omitted, ints are numbered from 0 in logging order. ``meta`` maps extra column
    names to one value per sample.
    """
    _writer().add_samples(texts=texts, labels=labels, ids=ids, split=split, meta=meta)


def log_dataset(
    dataset: Any,
    *,
    text: str = "text",
    label: str = "label",
    id: str | None = None,  # noqa: A002 - the name users know from dataquality
    split: str,
) -> None:
    """Log a pandas DataFrame or a Hugging Face ``datasets.Dataset``; other columns become metadata.

    ``id`` names the column of ids (default: the column ``id`` when there is one, else the rows
    are numbered).

    Integer labels of a Hugging Face ``ClassLabel`` column are logged as their names.
    """
    writer = _writer()
    for frame in _frames(dataset):
        if id is None and "id" in frame.columns:
            id = "id"  # noqa: A001 - a column named id holds the ids, as in dataquality
        missing = [c for c in (text, label if not is_inference(split) else None, id) if c and c not in frame.columns]
        if missing:
            raise ValidationError(
                f"The dataset must have the column(s) {missing} named by text=/label=/id=. "
                f"Got columns {list(frame.columns)} instead."
            )
        meta_cols = [c for c in frame.columns if c not in (text, label, id)]
        reserved = [c for c in meta_cols if not isinstance(c, str) or c in RESERVED_COLUMNS]
        if reserved:
            raise ValidationError(
                f"The dataset's other columns are kept as metadata, and {examples(reserved)} cannot be: dq "
                f"reserves {list(RESERVED_COLUMNS)}. Rename or drop them. Got columns {list(frame.columns)}."
            )
        writer.add_samples(
            texts=frame[text].tolist(),
            labels=frame[label].tolist() if label in frame.columns else None,
            ids=frame[id].tolist() if id else None,
            split=split,
            meta={c: frame[c].tolist() for c in meta_cols} or None,
        )


def _frames(dataset: Any) -> Any:
    """Yield the dataset as pandas frames of at most ``CONFIG.chunk_rows`` rows."""
    import pandas as pd

    if isinstance(dataset, pd.DataFrame):
        for start in range(0, max(len(dataset), 1), CONFIG.chunk_rows):
            yield dataset.iloc[start : start + CONFIG.chunk_rows]
        return
    features = getattr(dataset, "features", None)
    if features is None or not hasattr(dataset, "to_pandas"):
        raise ValidationError(
            "The 'dataset' parameter must be a pandas DataFrame or a Hugging Face Dataset. "
            f"Got {type(dataset).__name__} instead."
        )
    names = {c: f.names for c, f in features.items() if hasattr(f, "names") and hasattr(f, "int2str")}
    for frame in dataset.to_pandas(batch_size=CONFIG.chunk_rows, batched=True):
        for column, class_names in names.items():
            frame[column] = [class_names[v] if v is not None and v >= 0 else None for v in frame[column]]
        yield frame


def log_model_outputs(
    *,
    ids: Any,
    embs: Any,
    logits: Any = None,
    probs: Any = None,
    split: str,
    epoch: int,
) -> None:
    """Log embeddings and logits (or probabilities) for logged samples of one split at one epoch.

    Column ``j`` of ``logits``/``probs`` belongs to ``labels[j]`` of ``init``. Every epoch of a
    split must eventually cover all of its samples.
    """
    _writer().add_outputs(ids=ids, embs=embs, logits=logits, probs=probs, split=split, epoch=epoch)


def finish() -> Path:
    """Check the run is complete, write it atomically, and return the run directory."""
    global _current
    path = _writer().finish()
    _current = None
    return path
