"""SetFit: ``watch(trainer)`` logs embeddings and probabilities at every epoch of the body's fine-tuning.

Usage::

    from dq.integrations.setfit import watch
    callback = watch(trainer, project="banking77", run="setfit-minilm")
    trainer.train()
    callback.path

SetFit trains in two phases: contrastive fine-tuning of the sentence-transformer body (the
epochs), then fitting the classification head once on the final embeddings. At the end of every
body epoch (logged as epoch 0, 1, ...), for ``trainer.train_dataset`` (``training``) and
``trainer.eval_dataset`` (``validation``):

- ``embs`` are the body's sentence embeddings (``model.encode``);
- ``probs`` come from a copy of the model's scikit-learn head fitted on that epoch's training
  embeddings: what SetFit's second phase would give if the body stopped there. The model's own
  head is untouched. The copy is fitted by the same call SetFit's ``SetFitModel.fit`` makes
  (``model_body.encode(texts, normalize_embeddings=...)`` at the body's default batch size, then
  ``head.fit``), so after the last epoch it *is* the head SetFit fits: the same inputs to the same
  deterministic solver. A different ``batch_size`` changes the padding of each batch, so the
  embeddings move by float rounding (about 1e-7) and an iterative solver such as
  LogisticRegression's lbfgs, which stops at a tolerance, can land up to about 1e-3 away;
- texts, labels and ids come from the ``text``, ``label`` and (optional) ``id`` columns; integer
  labels are named by ``model.labels`` when the model has them.

The pass restores the body's train mode and every random generator, so training is unchanged.
Models with a differentiable head (``use_differentiable_head=True``) are refused: their head
trains only after the body, so no epoch of the body has probabilities to log.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dq.integrations._extras import require

setfit = require("setfit", integration="dq.integrations.setfit", needs="SetFit", extra="setfit")

import numpy as np  # noqa: E402 - after the check that names the missing extra
from sklearn.base import clone  # noqa: E402
from transformers import TrainerCallback  # noqa: E402 - setfit's trainer takes transformers callbacks

from dq._util.validate import as_positive_int, is_int  # noqa: E402
from dq.errors import ValidationError  # noqa: E402
from dq.integrations._epoch_logger import (  # noqa: E402
    EpochRun,
    TrainerRunHooks,
    column_samples,
)
from dq.integrations._torch_utils import frozen_rng, inference  # noqa: E402
from dq.splits import TRAINING, VALIDATION  # noqa: E402

__all__ = ["DQSetFitCallback", "watch"]

#: SetFit's column mapping renames the columns it does not map with this prefix (an ``id`` column too).
_MAPPED_PREFIX = "feat_"


class DQSetFitCallback(TrainerRunHooks, TrainerCallback):
    """The callback :func:`watch` adds to the body's training; ``path`` is the finished run afterwards."""

    def __init__(
        self,
        trainer: Any,
        *,
        text: str,
        label: str,
        id: str,
        batch_size: int | None,  # noqa: A002
        **run_options: Any,
    ) -> None:
        self.trainer = trainer
        self._batch_size = batch_size
        datasets = {TRAINING: trainer.train_dataset, VALIDATION: trainer.eval_dataset}
        datasets = {split: ds for split, ds in datasets.items() if ds is not None}
        if label not in (datasets[TRAINING].column_names or []):
            raise ValidationError(
                f"The training dataset must have the label column {label!r} named by label=. "
                f"Got columns {datasets[TRAINING].column_names} instead."
            )
        # The head's output order: scikit-learn sorts the label values it is fitted on.
        self._train_values = list(datasets[TRAINING][label])
        classes = sorted(set(self._train_values))
        names = _names(trainer.model, classes)
        samples = {
            split: column_samples(
                dataset,
                split=split,
                text=text,
                label=label,
                id=id if id in dataset.column_names else _MAPPED_PREFIX + id,
                name_labels=lambda values: [names.get(v, str(v)) for v in values],
            )
            for split, dataset in datasets.items()
        }
        self.run = EpochRun(samples, labels=[names[c] for c in classes], **run_options)

    def on_epoch_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if not self.run.is_open:
            return
        model = self.trainer.model
        with frozen_rng(), inference(model.model_body):
            embs = {split: self._encode(model, samples.texts) for split, samples in self.run.samples.items()}
            head = clone(model.model_head).fit(embs[TRAINING], self._train_values)  # the model's head is untouched
            self.run.log_epoch(lambda split: (embs[split], head.predict_proba(embs[split])), kind="probs")

    def _encode(self, model: Any, texts: list[str]) -> np.ndarray:
        """Embed ``texts`` as ``SetFitModel.fit`` does, at ``batch_size`` when one was given."""
        sizes = {} if self._batch_size is None else {"batch_size": self._batch_size}
        return np.asarray(
            model.model_body.encode(
                texts, normalize_embeddings=model.normalize_embeddings, show_progress_bar=False, **sizes
            )
        )


def _names(model: Any, classes: list[Any]) -> dict[Any, str]:
    """Label value → class name: ``model.labels[i]`` for an int ``i`` when the model has labels, else ``str``."""
    labels = getattr(model, "labels", None)
    names = {}
    for value in classes:
        is_index = is_int(value)
        names[value] = str(labels[value]) if labels and is_index and 0 <= value < len(labels) else str(value)
    return names


def watch(
    trainer: Any,
    *,
    project: str = "setfit",
    run: str | None = None,
    home: str | Path | None = None,
    overwrite: bool = False,
    text: str = "text",
    label: str = "label",
    id: str = "id",  # noqa: A002 - the vocabulary of dq.log_dataset
    batch_size: int | None = None,
) -> DQSetFitCallback:
    """Log every epoch of a SetFit ``Trainer``'s body fine-tuning as a dq run.

    Parameters
    ----------
    trainer : setfit.Trainer
        Holds a ``SetFitModel`` with a scikit-learn head and ``datasets.Dataset`` train (and
        optional eval) datasets with ``text`` and ``label`` columns.
    project, run, home, overwrite
        Where the run goes and whether a finished run there may be replaced, as for ``dq.init``
        (``run`` defaults to the UTC time when training starts).
    text, label, id : str
        Column names; without an ``id`` column, ids are the row numbers.
    batch_size : int, optional
        Texts per ``encode`` batch of the end-of-epoch pass. The default (None) is the batch size
        SetFit fits its head with, so the last epoch's probabilities are the trained model's own;
        another size agrees with them only to about 1e-3 (see the module docstring).

    Returns
    -------
    DQSetFitCallback
        Already added to ``trainer``; its ``path`` is the finished run once the body is trained.

    Examples
    --------
    >>> callback = watch(trainer, project="banking77", run="setfit")  # doctest: +SKIP
    >>> trainer.train()                                               # doctest: +SKIP
    >>> dq.insights.run_insights(callback.path)                       # doctest: +SKIP
    """
    if not isinstance(trainer, setfit.Trainer):
        raise ValidationError(
            f"The 'trainer' parameter of watch must be a setfit.Trainer. Got {type(trainer).__name__} instead."
        )
    head = getattr(trainer.model, "model_head", None)
    if trainer.model.has_differentiable_head or not hasattr(head, "predict_proba"):
        raise ValidationError(
            "The 'trainer' parameter of watch must hold a SetFit model with a scikit-learn head (the default "
            f"LogisticRegression). Got a {type(head).__name__} head instead."
        )
    if trainer.train_dataset is None:
        raise ValidationError("The 'trainer' parameter of watch must have a train_dataset. Got None instead.")
    if batch_size is not None:
        batch_size = as_positive_int(batch_size, param="batch_size", owner="watch")
    callback = DQSetFitCallback(
        trainer,
        text=text,
        label=label,
        id=id,
        batch_size=batch_size,
        project=project,
        run=run,
        home=home,
        overwrite=overwrite,
    )
    trainer.add_callback(callback)
    return callback
