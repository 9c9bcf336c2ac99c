"""``dataquality.integrations.torch``: ``watch(model, dataloaders)`` logs every forward pass of a
PyTorch model into the session's run, under the split and epoch set by ``dq.set_split`` /
``dq.set_epoch``.

The embedding is the input of the model's classifier layer (the module named ``classifier``, else
``fc``, found breadth first; ``classifier_layer`` names another) and the logits its output, the
first token of each when they are per token. A model without such a layer logs the first token of
``last_hidden_state_layer``'s output (default: the model's first child) and the model's own output
as logits.

Sample ids come from the dataloaders, as in dataquality: the indices each batch was drawn with are
positions in the split's logged data (``dq.log_dataset`` order), so a dataloader's dataset must hold
the split's samples in the order they were logged; shuffling samplers are fine. Batches need no id.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from dq.integrations._extras import require

torch: Any = require("torch", integration="dq.galileo.integrations.torch", needs="PyTorch", extra="torch")

from dq.errors import RunStateError, ValidationError  # noqa: E402
from dq.galileo import core  # noqa: E402
from dq.integrations._torch_utils import first_token, logits_of  # noqa: E402

__all__ = ["unwatch", "watch"]

#: Batch index lists drawn by the watched dataloaders and not yet consumed by a forward pass.
_pending: deque[list[int]] = deque()


def _find_classifier(model: Any, chosen: Any) -> Any:
    if chosen is not None:
        if isinstance(chosen, str):
            try:
                return model.get_submodule(chosen)
            except AttributeError:
                raise ValidationError(
                    f"The 'classifier_layer' parameter must name a module of the model. Got {chosen!r}."
                ) from None
        return chosen
    queue = deque(model.named_children())
    found: dict[str, Any] = {}
    while queue:
        name, module = queue.popleft()
        if name in ("classifier", "fc") and name not in found:
            found[name] = module
        queue.extend(module.named_children())
    return found.get("classifier") or found.get("fc")


def _patch(loader: Any) -> None:
    if getattr(loader, "_dq_original", None) is not None:
        return
    original = loader._get_iterator  # noqa: SLF001 - the hook dataquality uses too

    def get_iterator() -> Any:
        iterator = original()
        _pending.clear()  # a new pass over some data: whatever an earlier one left is stale
        next_index = iterator._next_index  # noqa: SLF001

        def recorded() -> Any:
            index = next_index()
            _pending.append(list(index) if isinstance(index, (list, tuple)) else [index])
            return index

        iterator._next_index = recorded  # noqa: SLF001
        return iterator

    loader._dq_original = original  # noqa: SLF001
    loader._get_iterator = get_iterator  # noqa: SLF001


class _Watcher:
    def __init__(self, model: Any, layer: Any, fallback: Any) -> None:
        self.model, self.handles = model, []
        self.embs: Any = None
        if layer is not None:
            self.handles.append(layer.register_forward_hook(self._on_layer))
        else:
            self.handles.append(fallback.register_forward_hook(self._on_hidden))
            self.handles.append(model.register_forward_hook(self._on_model))

    def _on_layer(self, _module: Any, args: Any, output: Any) -> None:
        self._log(first_token(args[0]), first_token(logits_of(output)))

    def _on_hidden(self, _module: Any, _args: Any, output: Any) -> None:
        hidden: Any = output if torch.is_tensor(output) else getattr(output, "last_hidden_state", None)
        if hidden is None and isinstance(output, (tuple, list)):
            hidden = output[0]
        self.embs = first_token(hidden)

    def _on_model(self, _module: Any, _args: Any, output: Any) -> None:
        self._log(self.embs, first_token(logits_of(output)))

    def _log(self, embs: Any, logits: Any) -> None:
        if not _pending:
            raise RunStateError(
                "dq.galileo's torch watch saw a forward pass without a batch from a watched dataloader: pass every "
                "dataloader that feeds the model to watch(model, dataloaders=[...])."
            )
        s = core.current()
        split = s.current_split()
        order = s.id_order.get(split, [])
        positions = _pending.popleft()
        try:
            ids = [order[p] for p in positions]
        except IndexError:
            raise ValidationError(
                f"A batch of split '{split}' holds positions up to {max(positions)}, but {len(order)} samples were "
                "logged for it: the dataloader's dataset must hold the split's logged samples in logging order."
            ) from None
        core.log_model_outputs(ids=ids, embs=embs, logits=logits, split=split, epoch=s.current_epoch(split))

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()


def watch(
    model: Any,
    dataloaders: list[Any] | None = None,
    classifier_layer: Any = None,
    embedding_dim: Any = None,
    logits_dim: Any = None,
    embedding_fn: Any = None,
    logits_fn: Any = None,
    last_hidden_state_layer: Any = None,
    unpatch_on_start: bool = False,
    dataloader_random_sampling: bool = False,
    *,
    layer: Any = None,
) -> None:
    """Log every forward pass of ``model`` fed by ``dataloaders`` into the run started by ``dq.init``.

    ``classifier_layer`` (or ``layer``): the module, or its dotted name, whose input is the embedding
    and output the logits.

    ``embedding_dim``, ``logits_dim``, ``embedding_fn`` and ``logits_fn`` are dataquality's and not
    supported (refused when given). ``dataloader_random_sampling`` needs nothing here: any sampler
    works, and an epoch that misses samples (a dropped last batch) is left out at ``finish``.
    """
    core.refuse_unsupported(
        embedding_dim=embedding_dim, logits_dim=logits_dim, embedding_fn=embedding_fn, logits_fn=logits_fn
    )
    if not dataloaders:
        raise ValidationError(
            "The 'dataloaders' parameter must list the DataLoaders that feed the model (their sampler indices are "
            "the sample ids). Got none."
        )
    core.current()
    if getattr(model, "_dq", None) is not None:
        if not unpatch_on_start:
            raise RunStateError(
                "The model is already watched: call unwatch(model) first, or watch(..., unpatch_on_start=True)."
            )
        unwatch(model)
    layer = _find_classifier(model, layer if layer is not None else classifier_layer)
    fallback = None
    if layer is None:
        fallback = _find_classifier(model, last_hidden_state_layer) if last_hidden_state_layer is not None else None
        fallback = fallback or next(iter(model.children()), None)
        if fallback is None:
            raise ValidationError("The model has no classifier layer and no child module to take embeddings from.")
        core.notice(f"no 'classifier' or 'fc' layer: embeddings from {type(fallback).__name__}, logits from the model")
    for loader in dataloaders:
        _patch(loader)
    model._dq = (_Watcher(model, layer, fallback), list(dataloaders))  # noqa: SLF001
    core.at_finish(lambda: unwatch(model))


def unwatch(model: Any = None, force: bool = True) -> None:
    """Stop logging ``model``: its hooks removed, its dataloaders as they were."""
    watched = getattr(model, "_dq", None) if model is not None else None
    if watched is None:
        return
    watcher, loaders = watched
    watcher.remove()
    for loader in loaders:
        original = getattr(loader, "_dq_original", None)
        if original is not None:
            loader._get_iterator = original  # noqa: SLF001
            loader._dq_original = None  # noqa: SLF001
    model._dq = None  # noqa: SLF001
    _pending.clear()
