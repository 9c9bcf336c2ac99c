"""Hugging Face ``Trainer``: ``watch(trainer)`` logs the training and evaluation data at every epoch.

Usage::

    from dq.integrations.transformers import watch
    callback = watch(trainer, project="banking77", run="minilm")
    trainer.train()
    callback.path                      # the finished run, ready for `dq insights` and the console
    # PosixPath('/home/me/.dq/runs/banking77/minilm')

At the end of every epoch (logged as epoch 0, 1, ...), for ``trainer.train_dataset`` (split
``training``) and ``trainer.eval_dataset`` (split ``validation``), one pass over the data logs:

- ``embs``: the input of the model's ``classifier`` module (for BERT, the pooled ``[CLS]`` vector;
  the first token when that input is per token, as in RoBERTa's head); a model without that module
  gets the first token of the last hidden state;
- ``logits``: the model's logits, columns named by ``model.config.id2label``;
- texts from the ``text`` column, or, without one, the tokenizer's decoding of ``input_ids``
  (special tokens skipped); labels from the ``label`` column (ints mapped by ``id2label``);
  ids from the ``id`` column, or the row numbers when there is none.

The pass runs in eval mode without gradients and restores the train mode and every random
generator afterwards, so training gives the same weights with and without ``watch``. The run is
finished when training ends; each ``trainer.train()`` call writes one run. Only the main process
logs in distributed training.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

from dq.integrations._extras import require

# Any, not ModuleType: the module is imported by name, so mypy cannot resolve its classes (a base class below).
transformers: Any = require(
    "transformers", integration="dq.integrations.transformers", needs="Hugging Face transformers", extra="hf"
)

import numpy as np  # noqa: E402 - after the check that names the missing extra
import torch  # noqa: E402

from dq._util.validate import as_positive_int  # noqa: E402
from dq.errors import ValidationError  # noqa: E402
from dq.integrations._epoch_logger import (  # noqa: E402
    INFERENCE_BATCH_SIZE,
    EpochRun,
    TrainerRunHooks,
    column_samples,
    label_names,
)
from dq.integrations._torch_utils import first_token, frozen_rng, inference, to_numpy  # noqa: E402
from dq.splits import TRAINING, VALIDATION  # noqa: E402

__all__ = ["DQTrainerCallback", "watch"]

_LABEL_COLUMNS = ("label", "labels", "label_ids")


def _class_names(model: Any) -> list[str]:
    """Class names in output order from ``model.config.id2label``.

    >>> from types import SimpleNamespace
    >>> model = SimpleNamespace(config=transformers.BertConfig(id2label={0: "neg", 1: "pos"}))  # only config is read
    >>> _class_names(model)
    ['neg', 'pos']
    """
    id2label = getattr(getattr(model, "config", None), "id2label", None)
    if not id2label:
        raise ValidationError(
            "The 'trainer' parameter of watch must hold a model whose config has id2label (class names "
            f"in output order). Got {type(model).__name__} without one instead."
        )
    return [str(id2label.get(i, id2label.get(str(i), i))) for i in range(len(id2label))]


class DQTrainerCallback(TrainerRunHooks, transformers.TrainerCallback):
    """The ``TrainerCallback`` that :func:`watch` adds; ``path`` is the finished run after training."""

    def __init__(
        self,
        trainer: Any,
        *,
        text: str,
        label: str,
        id: str,
        layer: str | None,  # noqa: A002
        batch_size: int,
        **run_options: Any,
    ) -> None:
        self.trainer = trainer
        self._layer, self._batch_size = layer, batch_size
        labels = _class_names(trainer.model)
        decode = _decoder(trainer)

        def name_labels(values: list[Any]) -> list[str]:
            return label_names(values, labels, what=f"label column {label!r} of the trainer's datasets")

        samples = {
            split: column_samples(
                dataset, split=split, text=text, label=label, id=id, name_labels=name_labels, decode=decode
            )
            for split, dataset in self._datasets().items()
        }
        self.run = EpochRun(samples, labels=labels, **run_options)

    def _datasets(self) -> dict[str, Any]:
        datasets = {TRAINING: self.trainer.train_dataset, VALIDATION: self.trainer.eval_dataset}
        return {split: ds for split, ds in datasets.items() if ds is not None}

    def on_epoch_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if not self.run.is_open:
            return
        model, datasets = self.trainer.model, self._datasets()
        with frozen_rng(), inference(model):
            self.run.log_epoch(lambda split: self._outputs(model, datasets[split]))

    def _outputs(self, model: Any, dataset: Any) -> tuple[np.ndarray, np.ndarray]:
        return trainer_outputs(self.trainer, model, dataset, layer=self._layer, batch_size=self._batch_size)


def trainer_outputs(
    trainer: Any, model: Any, dataset: Any, *, layer: str | None, batch_size: int
) -> tuple[np.ndarray, np.ndarray]:
    """Embeddings and logits of every row of ``dataset``, in row order, batched by the trainer's
    collator (run it inside ``frozen_rng()`` and ``inference(model)``)."""
    accepted = set(inspect.signature(model.forward).parameters) - set(_LABEL_COLUMNS)
    inputs = dataset.select_columns([c for c in dataset.column_names if c in accepted])
    module = _find_layer(model, layer)
    captured: list[torch.Tensor] = []
    hook = (
        module.register_forward_pre_hook(
            lambda _module, args, kwargs: captured.append(args[0] if args else next(iter(kwargs.values()))),
            with_kwargs=True,
        )
        if module is not None
        else None
    )
    device = next(model.parameters()).device
    embs, logits = [], []
    try:
        for start in range(0, len(inputs), batch_size):
            rows = inputs[start : start + batch_size]
            batch = trainer.data_collator([dict(zip(rows, values)) for values in zip(*rows.values())])
            batch = {k: v.to(device) for k, v in batch.items() if k in accepted and torch.is_tensor(v)}
            out = model(**batch, output_hidden_states=module is None)
            emb = captured.pop() if module is not None else out.hidden_states[-1]
            embs.append(to_numpy(first_token(emb)))
            logits.append(to_numpy(out.logits))
    finally:
        if hook is not None:
            hook.remove()
    return _stack(embs), _stack(logits)


def _stack(parts: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(parts) if parts else np.zeros((0, 0), dtype=np.float32)


def _find_layer(model: Any, name: str | None) -> torch.nn.Module | None:
    if name is None:
        return None
    try:
        return model.get_submodule(name)
    except AttributeError:
        return None


def _decoder(trainer: Any) -> Any:
    tokenizer = getattr(trainer, "processing_class", None) or getattr(trainer, "tokenizer", None)
    if tokenizer is None or not hasattr(tokenizer, "batch_decode"):
        return None
    return lambda input_ids: tokenizer.batch_decode(input_ids, skip_special_tokens=True)


def watch(
    trainer: Any,
    *,
    project: str = "hf",
    run: str | None = None,
    home: str | Path | None = None,
    overwrite: bool = False,
    text: str = "text",
    label: str = "label",
    id: str = "id",  # noqa: A002 - the vocabulary of dq.log_dataset
    layer: str | None = "classifier",
    batch_size: int = INFERENCE_BATCH_SIZE,
) -> DQTrainerCallback:
    """Log every epoch of a Hugging Face ``Trainer``'s training and evaluation data as a dq run.

    Parameters
    ----------
    trainer : transformers.Trainer
        Its ``train_dataset`` (and ``eval_dataset``, if any) must be ``datasets.Dataset`` objects
        holding the model inputs plus the ``text``, ``label`` and (optional) ``id`` columns.
    project, run, home, overwrite
        Where the run goes and whether a finished run there may be replaced, as for ``dq.init``
        (``run`` defaults to the UTC time when training starts).
    text, label, id : str
        Column names. Without a ``text`` column, texts are decoded from ``input_ids``; without an
        ``id`` column, ids are the row numbers.
    layer : str or None
        Dotted name of the module whose input is the embedding (default: the classification head);
        None, or a model without that module, uses the first token of the last hidden state.
    batch_size : int
        Rows per forward pass of the end-of-epoch pass.

    Returns
    -------
    DQTrainerCallback
        Already added to ``trainer``; its ``path`` is the finished run once training ends.

    Examples
    --------
    >>> callback = watch(trainer, project="banking77", run="minilm")  # doctest: +SKIP
    >>> trainer.train()                                                # doctest: +SKIP
    >>> dq.insights.run_insights(callback.path)                        # doctest: +SKIP
    """
    if not isinstance(trainer, transformers.Trainer):
        raise ValidationError(
            f"The 'trainer' parameter of watch must be a transformers.Trainer. Got {type(trainer).__name__} instead."
        )
    if isinstance(trainer.eval_dataset, dict):
        raise ValidationError(
            "The 'trainer' parameter of watch must have one eval_dataset (logged as 'validation'). "
            f"Got a dict of {len(trainer.eval_dataset)} datasets instead."
        )
    batch_size = as_positive_int(batch_size, param="batch_size", owner="watch")
    callback = DQTrainerCallback(
        trainer,
        text=text,
        label=label,
        id=id,
        layer=layer,
        batch_size=batch_size,
        project=project,
        run=run,
        home=home,
        overwrite=overwrite,
    )
    trainer.add_callback(callback)
    return callback
