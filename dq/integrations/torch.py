"""Plain PyTorch: ``watch(model, layer=...)`` logs the embeddings and logits of the batches you name.

A forward hook on ``layer`` (the module whose output is the embedding) and one on ``model`` (whose
output holds the logits) capture both; inside ``with watcher.log_batch(ids=..., split=..., epoch=...)``
the forward pass that runs is logged with the open client run (``dq.init`` ... ``dq.finish``).
Outside that block the hooks do nothing, so training steps cost nothing extra.

Usage::

    import dq
    from dq.integrations.torch import watch
    dq.init(project="banking77", run="bag-of-words", labels=class_names)
    dq.log_data_samples(texts=texts, labels=labels, ids=ids, split="training")
    watcher = watch(model, layer=model.encoder)
    for epoch in range(n_epochs):
        train_one_epoch(model)
        model.eval()
        with torch.no_grad():
            for batch_ids, x in loader:                               # every sample, once
                with watcher.log_batch(ids=batch_ids, split="training", epoch=epoch):
                    model(x)
    dq.finish()

A layer output of shape ``(batch, tokens, dim)`` is reduced to its first token; hook the layer
that pools when you want another reduction.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from dq.integrations._extras import require

torch = require("torch", integration="dq.integrations.torch", needs="PyTorch", extra="torch")

from dq import client  # noqa: E402 - after the check that names the missing extra
from dq.errors import RunStateError, ValidationError  # noqa: E402
from dq.integrations._torch_utils import first_token, logits_of, to_numpy  # noqa: E402

__all__ = ["TorchWatcher", "watch"]

_OUTPUT_KINDS = ("logits", "probs")


@dataclass
class _Batch:
    """The batch being logged: what ``log_batch`` was told, and whether its forward pass ran."""

    ids: Any
    split: str
    epoch: int
    logged: bool = False


class TorchWatcher:
    """Hooks on a model and its embedding layer that log the batches run inside :meth:`log_batch`.

    Made by :func:`watch`; call :meth:`remove` to take the hooks off.
    """

    def __init__(self, model: Any, layer: Any, *, outputs: str) -> None:
        self.model, self.layer, self.outputs = model, layer, outputs
        self._batch: _Batch | None = None
        self._emb: Any = None
        self._handles = [
            layer.register_forward_hook(self._on_layer_output),
            model.register_forward_hook(self._on_model_output),
        ]

    def _on_layer_output(self, _module: Any, _args: Any, output: Any) -> None:
        if self._batch is not None:
            tensor = output[0] if isinstance(output, (tuple, list)) else output
            self._emb = first_token(tensor).detach()

    def _on_model_output(self, _module: Any, _args: Any, output: Any) -> None:
        batch = self._batch
        if batch is None:
            return
        if self._emb is None:
            raise RunStateError(
                "The watched layer did not run in this forward pass of the model, so there is no embedding "
                "to log; pass watch(model, layer=...) a module that the forward pass calls."
            )
        scores = to_numpy(logits_of(output))
        client.log_model_outputs(
            ids=batch.ids, embs=to_numpy(self._emb), split=batch.split, epoch=batch.epoch, **{self.outputs: scores}
        )
        batch.logged, self._emb = True, None

    @contextmanager
    def log_batch(self, *, ids: Any, split: str, epoch: int) -> Iterator[None]:
        """Log the model's forward pass run inside the block as the outputs of ``ids`` at ``epoch``.

        ``ids`` (a list, array or tensor) name the batch's samples in order, as logged with
        ``dq.log_data_samples``; exactly one forward pass of the model must run inside the block.

        Examples
        --------
        >>> with watcher.log_batch(ids=[0, 1, 2], split="training", epoch=0):  # doctest: +SKIP
        ...     model(x)
        """
        if self._batch is not None:
            raise RunStateError("log_batch blocks cannot be nested: one batch is logged at a time.")
        ids = ids.detach().cpu().numpy() if torch.is_tensor(ids) else ids
        self._batch, self._emb = _Batch(ids=ids, split=split, epoch=epoch), None
        try:
            yield
            if not self._batch.logged:
                raise RunStateError(
                    f"No forward pass of the watched model ran inside log_batch(split={split!r}, epoch={epoch}); "
                    "call the model inside the with-block."
                )
        finally:
            self._batch, self._emb = None, None

    def remove(self) -> None:
        """Take the hooks off the model; the watcher logs nothing afterwards."""
        for handle in self._handles:
            handle.remove()
        self._handles = []


def _resolve_layer(model: Any, layer: Any) -> Any:
    if isinstance(layer, str):
        try:
            return model.get_submodule(layer)
        except AttributeError:
            pass
    elif isinstance(layer, torch.nn.Module) and any(m is layer for m in model.modules()):
        return layer
    raise ValidationError(
        "The 'layer' parameter of watch must be a submodule of 'model' (or its dotted name) whose output is "
        f"the embedding. Got {layer!r:.80} instead."
    )


def watch(model: Any, *, layer: Any, outputs: str = "logits") -> TorchWatcher:
    """Hook ``model`` so that batches run inside ``watcher.log_batch(...)`` are logged to the open run.

    Parameters
    ----------
    model : torch.nn.Module
        The classifier; its output is the logits (a tensor, a ``ModelOutput``/dict with
        ``logits``, or a tuple starting with them).
    layer : torch.nn.Module or str
        The submodule (or its dotted name, e.g. ``"encoder.pooler"``) whose output is the
        embedding the classifier reads.
    outputs : {"logits", "probs"}
        What the model returns; probabilities are logged as such, logits through a softmax.

    Returns
    -------
    TorchWatcher
        Use ``with watcher.log_batch(ids=..., split=..., epoch=...): model(x)``.

    Examples
    --------
    >>> import torch, dq, tempfile
    >>> from dq.integrations.torch import watch
    >>> model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
    >>> _ = dq.init(project="p", run="r", labels=["a", "b"], home=tempfile.mkdtemp())
    >>> dq.log_data_samples(texts=["x", "y"], labels=["a", "b"], ids=[0, 1], split="training")
    >>> watcher = watch(model, layer=model[1])
    >>> with torch.no_grad(), watcher.log_batch(ids=[0, 1], split="training", epoch=0):
    ...     _ = model(torch.ones(2, 4))
    >>> dq.finish().name
    'r'
    """
    if not isinstance(model, torch.nn.Module):
        raise ValidationError(
            f"The 'model' parameter of watch must be a torch.nn.Module. Got {type(model).__name__} instead."
        )
    if outputs not in _OUTPUT_KINDS:
        raise ValidationError(
            f"The 'outputs' parameter of watch must be one of {list(_OUTPUT_KINDS)}. Got {outputs!r} instead."
        )
    return TorchWatcher(model, _resolve_layer(model, layer), outputs=outputs)
