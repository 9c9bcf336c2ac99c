"""dataquality's logging calls, with its names, arguments and defaults, writing a dq run.

See :mod:`dq.galileo` for the migration and docs/galileo.md for every call.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from dq._util.validate import as_list, as_texts, plain
from dq.errors import RunStateError, ValidationError
from dq.galileo import session as sess
from dq.galileo.data import batches
from dq.splits import is_inference
from dq.store.extend import SplitAdder

#: Rows read per batch by log_dataset (dataquality's ``ITER_CHUNK_SIZE``).
ITER_CHUNK_SIZE = 100_000

_session: sess.Session | None = None
#: What the integrations undo when the run is finished (their hooks and patches), as dataquality does.
_at_finish: list[Callable[[], None]] = []


def at_finish(undo: Callable[[], None]) -> None:
    """Call ``undo`` when the open run is finished (an integration's hooks come off with it)."""
    _at_finish.append(undo)


def notice(message: str) -> None:
    """One line on stderr: what a Galileo cloud call does here."""
    print(f"dq.galileo: {message}", file=sys.stderr)


def refuse_unsupported(**arguments: Any) -> None:
    """Refuse dataquality arguments dq does not support when they are given (not None)."""
    given = [name for name, value in arguments.items() if value is not None]
    if given:
        raise ValidationError(f"watch does not support {given} in dq: pass classifier_layer= (a module or its name).")


def is_open() -> bool:
    """Whether a run is open (``init`` called and not yet finished)."""
    return _session is not None


def current() -> sess.Session:
    """The open session; ``RunStateError`` when ``init`` was not called."""
    if _session is None:
        raise RunStateError(
            "No run is open: call dq.init(task_type='text_classification', project_name=..., run_name=...) first."
        )
    return _session


def init(
    task_type: Any = sess.TASK_TYPE,
    project_name: str | None = None,
    run_name: str | None = None,
    is_public: bool = True,
    overwrite_local: bool = True,
    *,
    home: str | Path | None = None,
) -> None:
    """Start a run ``<DQ_HOME>/runs/<project_name>/<run_name>`` (dataquality's ``init``).

    Only ``task_type="text_classification"`` is supported. Without a project name one is made up
    (``adjective_color_animal_xxxxx``); without a run name it is ``YYYY-MM-DD_<n>``, as dataquality
    names them. A finished run already there keeps its labels: logging training data again replaces
    it at ``finish``, logging inference data adds the inference sets to it. ``is_public`` and
    ``overwrite_local`` concern Galileo's servers and are ignored. ``home`` (dq only) overrides
    ``$DQ_HOME``.
    """
    global _session
    task = getattr(task_type, "name", task_type)
    if task != sess.TASK_TYPE:
        raise ValidationError(
            f"The 'task_type' parameter must be {sess.TASK_TYPE!r}: dq studio supports text classification only. "
            f"Got {task_type!r} instead."
        )
    if run_name is not None and project_name is None:
        notice("a run_name needs a project_name: nothing was initialised (as in dataquality)")
        return
    if _session is not None:
        _session.abort()
        _session = None
    root = Path(home).expanduser() if home is not None else None
    from dq.config import runs_root

    project = sess.check_name(project_name, param="project_name") if project_name else sess.default_project()
    run = sess.check_name(run_name, param="run_name") if run_name else sess.default_run(runs_root(root) / project)
    _session = sess.Session(project=project, run=run, home=root)
    state = "continues the finished run" if _session.existing else "logs to"
    notice(f"{state} {_session.target} (local; nothing is uploaded)")


def set_labels_for_run(labels: Any) -> None:
    """The class names in the model's output order (before or after the data is logged)."""
    current().set_labels(labels)


def get_current_run_labels() -> list[str] | None:
    """The labels set for the open run (None before ``set_labels_for_run``)."""
    return current().labels


def set_split(split: Any, inference_name: str | None = None) -> None:
    """The split later calls log to when they name none (``train``, ``validation``, ``test``, ``inference``…)."""
    current().split = sess.split_key(split, inference_name)


def set_epoch(epoch: int) -> None:
    """The epoch later ``log_model_outputs`` calls log to when they name none."""
    from dq._util.validate import as_non_negative_int

    current().epoch = as_non_negative_int(epoch, param="epoch")


def set_epoch_and_split(epoch: int, split: Any, inference_name: str | None = None) -> None:
    """``set_epoch`` and ``set_split`` in one call."""
    set_epoch(epoch)
    set_split(split, inference_name)


def log_data_samples(
    *,
    texts: Any,
    ids: Any,
    labels: Any = None,
    split: Any = None,
    inference_name: str | None = None,
    meta: dict[str, Any] | None = None,
    **kwargs: Any,
) -> None:
    """Log samples: texts, unique ids and (except for inference) labels, names or indices into the labels."""
    if kwargs:
        raise ValidationError(f"log_data_samples got unexpected arguments {sorted(kwargs)}.")
    s = current()
    key = s.current_split(split, inference_name)
    texts = as_texts(texts)
    ids_list = as_list(ids, param="ids")
    if labels is None and not is_inference(key):
        raise ValidationError(f"The 'labels' parameter must be given for split '{key}'. Got None instead.")
    label_list = None if labels is None else as_list(labels, param="labels")
    s.add_samples(texts=texts, labels=label_list, ids=ids_list, split=key, meta=meta)


def log_data_sample(
    *,
    text: str,
    id: Any,  # noqa: A002 - dataquality's name
    label: Any = None,
    split: Any = None,
    inference_name: str | None = None,
    meta: dict[str, Any] | None = None,
    **kwargs: Any,
) -> None:
    """Log one sample (see :func:`log_data_samples`)."""
    log_data_samples(
        texts=[text],
        ids=[id],
        labels=None if label is None else [label],
        split=split,
        inference_name=inference_name,
        meta={k: [v] for k, v in meta.items()} if meta else None,
        **kwargs,
    )


def log_dataset(
    dataset: Any,
    *,
    batch_size: int = ITER_CHUNK_SIZE,
    text: Any = "text",
    id: Any = "id",  # noqa: A002 - dataquality's name
    label: Any = "label",
    split: Any = None,
    inference_name: str | None = None,
    meta: list[Any] | None = None,
    **kwargs: Any,
) -> None:
    """Log a pandas DataFrame, a Hugging Face Dataset or an iterable of dicts or tuples.

    ``text``, ``id`` and ``label`` name the columns (or positions, for tuples); ``meta`` lists the
    columns kept as metadata. A ``ClassLabel`` column's integers are logged as its names, and those
    names become the run's labels when none are set yet.
    """
    if kwargs:
        raise ValidationError(f"log_dataset got unexpected arguments {sorted(kwargs)}.")
    s = current()
    key = s.current_split(split, inference_name)

    def adopt(names: list[str]) -> None:
        if s.labels is None:
            s.set_labels(names)

    for batch in batches(
        dataset,
        text=text,
        id=id,
        label=None if is_inference(key) else label,
        meta=meta,
        batch_size=batch_size,
        class_names=adopt,
    ):
        if batch.labels is None and not is_inference(key):
            raise ValidationError(
                f"The dataset must have the label column {label!r} named by label= for split '{key}'."
            )
        s.add_samples(texts=as_texts(batch.texts), labels=batch.labels, ids=batch.ids, split=key, meta=batch.meta)


def log_model_outputs(
    *,
    ids: Any,
    embs: Any = None,
    split: Any = None,
    epoch: int | None = None,
    logits: Any = None,
    probs: Any = None,
    log_probs: Any = None,
    inference_name: str | None = None,
    exclude_embs: bool = False,
) -> None:
    """Log a batch's embeddings and logits (or probabilities) under the session's split and epoch.

    Tensors of PyTorch (also ones that require grad) and TensorFlow are accepted. One column of
    logits (binary, sigmoid) becomes two. With ``exclude_embs=True`` the samples' texts are embedded
    by the bundled sentence model instead (once per sample), so neighbors and clusters still work.
    """
    if any(symbolic(v) for v in (embs, logits, probs, log_probs)):
        return  # a framework tracing the model (shapes only, no values): not a batch of data
    s = current()
    key = s.current_split(split, inference_name)
    at = s.current_epoch(key, epoch)
    ids_arr = np.asarray(plain(ids)).reshape(-1)
    ids_list = ids_arr.tolist()
    if log_probs is not None and probs is None and logits is None:
        logits = np.asarray(plain(log_probs), dtype=np.float64)  # log-probabilities are logits up to a constant
    if logits is not None:
        logits = np.asarray(plain(logits), dtype=np.float64)
        if logits.ndim == 1 or (logits.ndim == 2 and logits.shape[1] == 1):
            p = 1.0 / (1.0 + np.exp(-logits.reshape(-1)))
            logits, probs = None, np.stack([1 - p, p], axis=1)
    writer = s.writer_for(key)
    auto_source = s.existing.auto_source if s.existing is not None and isinstance(writer, SplitAdder) else None
    if auto_source is not None:
        # A set added to a run dq auto built sits in the space of the run's other splits: the sentence
        # embeddings of its texts by the run's model, not the fine-tuned model's own vectors.
        embs = _text_embeddings(s, key, ids_list, model=auto_source.get("settings", {}).get("model"))
    elif exclude_embs or embs is None:
        if not exclude_embs:
            raise ValidationError("The 'embs' parameter must be given (or exclude_embs=True). Got None instead.")
        embs = _text_embeddings(s, key, ids_list)
    writer.add_outputs(ids=ids_list, embs=embs, logits=logits, probs=probs, split=key, epoch=at)


def symbolic(value: Any) -> bool:
    """Whether ``value`` is a placeholder of a model being traced: a Keras symbolic tensor, a PyTorch
    tensor on the ``meta`` device (Keras' torch backend builds models with them)."""
    return type(value).__name__ == "KerasTensor" or str(getattr(value, "device", "")) == "meta"


def _text_embeddings(s: sess.Session, split: str, ids: list[Any], model: str | None = None) -> np.ndarray:
    from dq.auto.embed import embed_texts
    from dq.config import cache_root

    texts = s.texts.get(split, {})
    missing = [i for i in ids if i not in texts]
    if missing:
        raise ValidationError(
            f"The 'ids' parameter must hold logged ids of split '{split}'. Got unknown ids {missing[:5]}."
        )
    return embed_texts([texts[i] for i in ids], model=model, cache_dir=cache_root(s.home), progress=False)


def finish(
    last_epoch: int | None = None,
    wait: bool = True,
    create_data_embs: bool | None = None,
    data_embs_col: str = "text",
    upload_model: bool = False,
) -> str:
    """Write the run and return its directory (as text).

    Epochs after ``last_epoch``, and epochs that did not log every sample of their split (a
    dataloader that dropped its last batch), are left out with a notice; a split with no complete
    epoch is refused, naming it. ``wait``, ``create_data_embs``, ``data_embs_col`` and
    ``upload_model`` concern Galileo's servers and are ignored.
    """
    global _session
    s = current()
    if s.pending:
        raise RunStateError(
            f"{sum(len(b['texts']) for b in s.pending)} samples wait for the run's labels: call "
            "dq.set_labels_for_run(labels) before dq.finish()."
        )
    if s.writer is None:
        raise ValidationError("No samples were logged: log a dataset and its model outputs before dq.finish().")
    writer = s.writer
    for split, (n, epochs) in writer.coverage().items():
        for epoch, seen in epochs.items():
            late = last_epoch is not None and epoch > last_epoch
            if late or seen < n:
                writer.discard_epoch(split, epoch)
                why = f"after last_epoch={last_epoch}" if late else f"outputs for {seen} of {n} samples"
                notice(f"left out epoch {epoch} of split '{split}' ({why})")
    path = writer.finish()
    _session = None
    while _at_finish:
        _at_finish.pop()()
    notice(f"run written to {path}: `dq insights {path}`, or `make run` for the console")
    return str(path)
