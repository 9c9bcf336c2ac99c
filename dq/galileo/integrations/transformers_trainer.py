"""``dataquality.integrations.transformers_trainer``: ``watch(trainer)`` logs a Hugging Face
``Trainer`` into the session's run.

The data is logged by the notebook (``dq.log_dataset``, with an ``id`` column); ``watch`` logs the
model's outputs: at the end of every epoch, one pass over ``trainer.train_dataset`` (``training``)
and ``trainer.eval_dataset`` (``validation``) in eval mode, without gradients and with every random
generator restored, so training is unchanged. After training the session's split is ``test`` (as
in dataquality), and ``trainer.predict(dataset)`` logs that dataset under the session's split and
epoch (``dq.set_split("inference", inference_name=...)`` first for inference data).

Embeddings are the input of the ``classifier`` module (``classifier_layer`` names another), the
first token when it is per token; without such a module, the first token of the last hidden state.
"""

from __future__ import annotations

from typing import Any

from dq.integrations._extras import require

transformers: Any = require(
    "transformers", integration="dq.galileo.integrations.transformers_trainer", needs="Hugging Face transformers",
    extra="hf",
)  # fmt: skip

from dq.errors import ValidationError  # noqa: E402
from dq.galileo import core  # noqa: E402
from dq.integrations._epoch_logger import INFERENCE_BATCH_SIZE  # noqa: E402
from dq.integrations._torch_utils import frozen_rng, inference  # noqa: E402
from dq.integrations.transformers import trainer_outputs  # noqa: E402
from dq.splits import TEST, TRAINING, VALIDATION  # noqa: E402

__all__ = ["unwatch", "watch"]


def _ids(dataset: Any, what: str) -> list[Any]:
    columns = list(getattr(dataset, "column_names", None) or [])
    if "id" not in columns:
        raise ValidationError(
            f"The {what} must have an 'id' column holding the ids logged with dq.log_dataset. Got columns "
            f"{columns} instead: add one with dataset.map(lambda row, i: {{'id': i}}, with_indices=True)."
        )
    return list(dataset["id"])


class _Watch(transformers.TrainerCallback):
    def __init__(self, trainer: Any, layer: str | None, batch_size: int) -> None:
        self.trainer, self.layer, self.batch_size = trainer, layer, batch_size

    def log(self, dataset: Any, split: str, epoch: int) -> None:
        ids = _ids(dataset, f"{split} dataset")
        model = self.trainer.model
        with frozen_rng(), inference(model):
            embs, logits = trainer_outputs(self.trainer, model, dataset, layer=self.layer, batch_size=self.batch_size)
        core.log_model_outputs(ids=ids, embs=embs, logits=logits, split=split, epoch=epoch)

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        _ids(self.trainer.train_dataset, "training dataset")
        core.current().split = TRAINING

    def on_epoch_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        s = core.current()
        s.epoch, s.split = int(state.epoch or 0), TRAINING

    def on_epoch_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if not state.is_world_process_zero:
            return
        epoch = core.current().current_epoch(TRAINING)
        self.log(self.trainer.train_dataset, TRAINING, epoch)
        if self.trainer.eval_dataset is not None:
            self.log(self.trainer.eval_dataset, VALIDATION, epoch)

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        core.current().split = TEST


def watch(
    trainer: Any,
    classifier_layer: Any = None,
    embedding_dim: Any = None,
    logits_dim: Any = None,
    embedding_fn: Any = None,
    logits_fn: Any = None,
    last_hidden_state_layer: Any = None,
    *,
    layer: Any = None,
    batch_size: int = INFERENCE_BATCH_SIZE,
) -> None:
    """Log the trainer's epochs and predictions into the run started by ``dq.init``.

    ``classifier_layer`` (or ``layer``): the module, or its dotted name, whose input is the
    embedding (default ``classifier``). ``embedding_dim``, ``logits_dim``, ``embedding_fn``,
    ``logits_fn`` and ``last_hidden_state_layer`` are dataquality's and not supported (refused
    when given): dq takes the first token of a per-token input.
    """
    if not isinstance(trainer, transformers.Trainer):
        raise ValidationError(f"The 'trainer' parameter must be a transformers.Trainer. Got {type(trainer).__name__}.")
    core.refuse_unsupported(
        embedding_dim=embedding_dim, logits_dim=logits_dim, embedding_fn=embedding_fn, logits_fn=logits_fn,
        last_hidden_state_layer=last_hidden_state_layer,
    )  # fmt: skip
    core.current()
    chosen = layer if layer is not None else classifier_layer
    if chosen is not None and not isinstance(chosen, str):
        names = {module: name for name, module in trainer.model.named_modules()}
        if chosen not in names:
            raise ValidationError("The 'classifier_layer' parameter must be a module of the trainer's model.")
        chosen = names[chosen]
    callback = _Watch(trainer, chosen or "classifier", batch_size)
    trainer.add_callback(callback)
    original = trainer.predict

    def predict(test_dataset: Any, *args: Any, **kwargs: Any) -> Any:
        result = original(test_dataset, *args, **kwargs)
        s = core.current()
        split = s.current_split()
        callback.log(test_dataset, split, s.current_epoch(split))
        return result

    trainer.predict = predict
    trainer._dq_watch = (callback, original)  # noqa: SLF001 - what unwatch takes back
    core.at_finish(lambda: unwatch(trainer))


def unwatch(trainer: Any) -> None:
    """Stop logging the trainer (its callback removed, ``predict`` restored)."""
    callback, original = getattr(trainer, "_dq_watch", (None, None))
    if callback is not None:
        trainer.remove_callback(callback)
        trainer.predict = original
        del trainer._dq_watch
