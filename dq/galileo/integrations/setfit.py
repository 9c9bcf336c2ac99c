"""``dataquality.integrations.setfit``: ``watch(trainer_or_model, labels=...)`` logs a SetFit model.

With a trainer, ``trainer.train()`` trains as usual and then logs its training and evaluation
datasets (``training`` and ``validation``, epoch 0): the texts, labels and ids (after the trainer's
``column_mapping``; ids numbered from 0 when the data has none; every other column as metadata), the
body's sentence embeddings and the model's probabilities, and finishes the run unless
``finish=False``. With a model (or a trainer) ``watch`` returns ``dq_evaluate(dataset, split, ...)``,
which logs any dataset the same way: test data, or inference sets under ``inference_name``.
"""

from __future__ import annotations

from typing import Any

from dq.integrations._extras import require

setfit: Any = require("setfit", integration="dq.galileo.integrations.setfit", needs="SetFit", extra="setfit")

import numpy as np  # noqa: E402

from dq.errors import ValidationError  # noqa: E402
from dq.galileo import core  # noqa: E402
from dq.galileo.session import TASK_TYPE  # noqa: E402
from dq.splits import TRAINING, VALIDATION, is_inference  # noqa: E402

__all__ = ["unwatch", "watch"]

_EVALUATE_BATCH = 64


class _Evaluate:
    """``dq_evaluate(dataset, split, meta=None, inference_name=None, column_mapping=None, batch_size=64,
    epoch=None)``: log a dataset's samples (once per split) and the model's outputs on them; returns
    the predicted labels."""

    def __init__(self, model: Any, batch_size: int | None) -> None:
        self.model, self.batch_size = model, batch_size

    def __call__(
        self,
        dataset: Any,
        split: Any,
        meta: list[str] | None = None,
        inference_name: str | None = None,
        column_mapping: dict[str, str] | None = None,
        batch_size: int = _EVALUATE_BATCH,
        epoch: int | None = None,
    ) -> list[str]:
        s = core.current()
        key = s.current_split(split, inference_name)
        mapping = {k: v for k, v in (column_mapping or {}).items() if k in dataset.column_names and k != v}
        if mapping:
            dataset = dataset.rename_columns(mapping)
        if "text" not in dataset.column_names:
            raise ValidationError(
                f"The dataset must have a 'text' column (or one mapped to it by column_mapping). "
                f"Got columns {dataset.column_names} instead."
            )
        ids = list(dataset["id"]) if "id" in dataset.column_names else list(range(len(dataset)))
        texts = [str(t) for t in dataset["text"]]
        if key not in s.id_order:  # a split's samples are logged once, its outputs at each call
            labels = None if is_inference(key) else list(dataset["label"])
            extra = [c for c in dataset.column_names if c not in ("text", "label", "id")]
            meta_values = {c: list(dataset[c]) for c in extra if c in (meta or extra)}
            core.log_data_samples(texts=texts, ids=ids, labels=labels, split=key, meta=meta_values or None)
        size = self.batch_size or batch_size
        embs = np.asarray(self.model.model_body.encode(texts, batch_size=size, convert_to_numpy=True))
        probs = np.asarray(self.model.predict_proba(texts, batch_size=size, as_numpy=True), dtype=np.float64)
        core.log_model_outputs(ids=ids, embs=embs, probs=probs, split=key, epoch=epoch if epoch is not None else 0)
        names = core.current().labels or []
        return [names[j] for j in probs.argmax(axis=1)]


def watch(
    setfit: Any,
    labels: list[str] | None = None,
    project_name: str = "",
    run_name: str = "",
    finish: bool = True,
    wait: bool = False,
    batch_size: int | None = None,
    meta: list[str] | None = None,
    validate_before_training: bool = False,
) -> _Evaluate:
    """Watch a SetFit ``Trainer`` (logs after ``train()``) or ``SetFitModel``; return ``dq_evaluate``.

    Starts a run (``dq.init``) when ``project_name`` is given or none is open. ``labels`` default to
    the run's, else the training data's ClassLabel names, else the model's. ``wait`` and
    ``validate_before_training`` are Galileo's and ignored.
    """
    if project_name or not core.is_open():
        core.init(TASK_TYPE, project_name or None, run_name or None)
    is_trainer = hasattr(setfit, "train") and hasattr(setfit, "model")
    model = setfit.model if is_trainer else setfit
    if labels is not None:
        core.set_labels_for_run(labels)
    evaluate = _Evaluate(model, batch_size)
    if not is_trainer:
        if core.current().labels is None and getattr(model, "labels", None):
            core.set_labels_for_run(model.labels)
        if core.current().labels is None:
            raise ValidationError("watch(model) needs the labels: pass labels=[...] or call dq.set_labels_for_run.")
        return evaluate
    original = setfit.train

    def train(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        s = core.current()
        if s.labels is None:
            feature = setfit.train_dataset.features.get("label")
            names = getattr(feature, "names", None) or getattr(setfit.model, "labels", None)
            if not names:
                raise ValidationError("watch(trainer) needs the labels: pass labels=[...] or use a ClassLabel column.")
            core.set_labels_for_run(names)
        mapping = getattr(setfit, "column_mapping", None)
        evaluate(setfit.train_dataset, TRAINING, column_mapping=mapping, meta=meta)
        if setfit.eval_dataset is not None:
            evaluate(setfit.eval_dataset, VALIDATION, column_mapping=mapping, meta=meta)
        if finish:
            core.finish()
        return result

    setfit.train = train
    setfit._dq_train = original  # noqa: SLF001 - what unwatch puts back
    return evaluate


def unwatch(setfit_obj: Any) -> None:
    """Undo ``watch`` on a trainer (its ``train`` as it was)."""
    original = getattr(setfit_obj, "_dq_train", None)
    if original is not None:
        setfit_obj.train = original
        del setfit_obj._dq_train
