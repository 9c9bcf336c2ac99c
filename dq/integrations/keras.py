"""Keras 3: ``DQCallback`` logs the embeddings and outputs of the splits you give it at every epoch.

Keras reads its backend from ``KERAS_BACKEND`` (or ``~/.keras/keras.json``) when first imported;
its default is TensorFlow. When neither chooses one, Keras is not imported yet and TensorFlow is
not installed, importing this module picks ``torch`` (or ``jax``), whichever is installed, instead
of letting Keras fail inside its import; with none of the three it fails in one line.
``"tensorflow"``, ``"torch"`` and ``"jax"`` all work.

Usage::

    from dq.integrations.keras import DQCallback, SplitData
    callback = DQCallback(
        {"training": SplitData(x_train, texts=train_texts, labels=y_train),
         "validation": SplitData(x_val, texts=val_texts, labels=y_val)},
        labels=class_names, project="banking77", run="keras-bow")
    model.fit(x_train, y_train, epochs=5, callbacks=[callback])
    callback.path

The embedding is the input of the model's last layer (the classifier), or the output of the layer
named by ``layer=``; a per-token ``(batch, tokens, dim)`` embedding is reduced to its first token.
The model must be Functional or Sequential (built from ``keras.Input``), so that the embedding can
be read from its graph.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dq.errors import MissingExtraError
from dq.integrations._extras import missing_extra, require

_INTEGRATION, _NEEDS, _EXTRA = "dq.integrations.keras", "Keras 3", "keras"
#: Backends in Keras's order of preference after its default (TensorFlow): the first installed is taken.
_BACKENDS = ("tensorflow", "torch", "jax")


def _choose_backend() -> None:
    """Set ``KERAS_BACKEND`` to an installed backend unless one is chosen and installed already."""
    if "keras" in sys.modules or os.environ.get("KERAS_BACKEND"):
        return  # Keras has its backend already, or the user chose one
    # keras.json is written by Keras's first import with its default (tensorflow) in it, so a
    # backend named there counts only when it is installed.
    configured = _configured_backend()
    if configured and importlib.util.find_spec(configured) is not None:
        return
    installed = [name for name in _BACKENDS if importlib.util.find_spec(name) is not None]
    if not installed:
        needs_torch = missing_extra(_INTEGRATION, "a Keras backend", "torch")
        raise MissingExtraError(f"{needs_torch} (or tensorflow or jax), or set KERAS_BACKEND")
    os.environ["KERAS_BACKEND"] = installed[0]


def _configured_backend() -> str | None:
    """The backend ``keras.json`` names, if it is readable and names one."""
    path = Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras") / "keras.json"
    try:
        backend = json.loads(path.read_text(encoding="utf-8")).get("backend")
    except (OSError, ValueError, AttributeError):
        return None
    return backend if isinstance(backend, str) else None


_choose_backend()
# Any, not ModuleType: the module is imported by name, so mypy cannot resolve its classes (a base class below).
keras: Any = require("keras", integration=_INTEGRATION, needs=_NEEDS, extra=_EXTRA)
if int(str(getattr(keras, "__version__", "0")).split(".")[0]) < 3:
    raise missing_extra(_INTEGRATION, _NEEDS, _EXTRA)

import numpy as np  # noqa: E402 - after the check that names the missing extra

from dq._util.validate import (  # noqa: E402
    as_labels_list,
    as_positive_int,  # noqa: E402
    as_texts,
)
from dq.errors import ValidationError  # noqa: E402
from dq.integrations._epoch_logger import (  # noqa: E402
    INFERENCE_BATCH_SIZE,
    EpochRun,
    SplitSamples,
    label_names,
)
from dq.splits import check_split  # noqa: E402

__all__ = ["DQCallback", "SplitData"]

_OUTPUT_KINDS = ("auto", "probs", "logits")


@dataclass(frozen=True)
class SplitData:
    """One split for :class:`DQCallback`: the model inputs and, row for row, texts, labels and ids.

    ``labels`` are class indices or class names (None only for the ``inference`` split);
    ``ids`` default to the row numbers.
    """

    x: Any
    texts: Sequence[str]
    labels: Sequence[Any] | None = None
    ids: Sequence[Any] | None = None


class DQCallback(keras.callbacks.Callback):
    """Log every epoch of ``model.fit`` as a dq run: embeddings and outputs of each given split.

    Parameters
    ----------
    splits : mapping of str to SplitData
        Split name (``training``, ``validation``, ``test``, ``inference``) to its data.
    labels : sequence of str
        Class names in model output order.
    project, run, home, overwrite
        Where the run goes and whether a finished run there may be replaced, as for ``dq.init``
        (``run`` defaults to the UTC time when training starts). Epochs are logged as 0, 1, ...
    layer : str or keras.layers.Layer, optional
        The layer whose output is the embedding; default: the input of the last layer.
    outputs : {"auto", "probs", "logits"}
        What the model returns; ``auto`` means probabilities when the last layer's activation
        is softmax, logits otherwise.
    batch_size : int
        Rows per ``predict`` batch of the end-of-epoch pass.

    Examples
    --------
    >>> cb = DQCallback({"training": SplitData(x, texts=texts, labels=y)}, labels=names)  # doctest: +SKIP
    >>> model.fit(x, y, epochs=2, callbacks=[cb])                                       # doctest: +SKIP
    >>> cb.path                                                                         # doctest: +SKIP
    """

    def __init__(
        self,
        splits: Mapping[str, SplitData],
        *,
        labels: Sequence[str],
        project: str = "keras",
        run: str | None = None,
        home: str | Path | None = None,
        overwrite: bool = False,
        layer: Any = None,
        outputs: str = "auto",
        batch_size: int = INFERENCE_BATCH_SIZE,
    ) -> None:
        super().__init__()
        if outputs not in _OUTPUT_KINDS:
            raise ValidationError(
                f"The 'outputs' parameter of DQCallback must be one of {list(_OUTPUT_KINDS)}. Got {outputs!r} instead."
            )
        if not isinstance(splits, Mapping) or not splits:
            raise ValidationError(
                "The 'splits' parameter of DQCallback must be a non-empty dict of split name to SplitData. "
                f"Got {splits!r:.80} instead."
            )
        labels = as_labels_list(labels)
        self._inputs = {check_split(name, param="splits"): _check_data(name, data) for name, data in splits.items()}
        samples = {split: _split_samples(split, data, labels) for split, data in self._inputs.items()}
        self.run = EpochRun(samples, labels=labels, project=project, run=run, home=home, overwrite=overwrite)
        self._layer, self._outputs = layer, outputs
        self._batch_size = as_positive_int(batch_size, param="batch_size", owner="DQCallback")
        self._reader: Any = None

    @property
    def path(self) -> Path | None:
        """The finished run directory, once ``fit`` has returned."""
        return self.run.path

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self.run.begin()
        self._reader = None  # the model may have been rebuilt since the last fit

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if self.run.is_open:
            reader, kind = self._embedding_reader()
            self.run.log_epoch(lambda split: self._predict(reader, split), kind=kind)

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        self.run.end()

    def _predict(self, reader: Any, split: str) -> tuple[np.ndarray, np.ndarray]:
        embs, scores = reader.predict(self._inputs[split].x, batch_size=self._batch_size, verbose=0)
        embs = np.asarray(embs)
        return (embs[:, 0] if embs.ndim == 3 else embs), np.asarray(scores)

    def _embedding_reader(self) -> tuple[Any, str]:
        """A model from the same inputs to (embedding, output), and whether the output is probs or logits."""
        model = self.model
        if self._reader is None:
            emb = self._embedding_tensor(model)
            try:
                self._reader = keras.Model(model.inputs, [emb, model.outputs[0]])
            except (AttributeError, ValueError, TypeError) as exc:
                raise _not_functional(model, exc) from None
        kind = self._outputs
        if kind == "auto":
            activation = getattr(model.layers[-1], "activation", None)
            kind = "probs" if getattr(activation, "__name__", "") == "softmax" else "logits"
        return self._reader, kind

    def _embedding_tensor(self, model: Any) -> Any:
        if self._layer is None:
            try:
                return model.layers[-1].input
            except (AttributeError, ValueError, IndexError) as exc:
                raise _not_functional(model, exc) from None
        if isinstance(self._layer, str):
            found = [layer for layer in model.layers if layer.name == self._layer]
        else:
            found = [layer for layer in model.layers if layer is self._layer]
        if not found:
            raise ValidationError(
                "The 'layer' parameter of DQCallback must be a layer of the model (or its name). "
                f"Got {self._layer!r:.80} instead."
            )
        return found[0].output


def _not_functional(model: Any, exc: Exception) -> ValidationError:
    return ValidationError(
        "The model trained with DQCallback must be a Functional or Sequential Keras model built from "
        f"keras.Input, so that its embedding can be read. Got {type(model).__name__} ({exc}) instead."
    )


def _split_samples(split: str, data: SplitData, labels: list[str]) -> SplitSamples:
    texts = as_texts(data.texts, param=f"splits[{split!r}].texts")
    names = None if data.labels is None else label_names(list(data.labels), labels, what=f"labels of splits[{split!r}]")
    return SplitSamples(texts=texts, labels=names, ids=list(range(len(texts))) if data.ids is None else list(data.ids))


def _check_data(name: str, data: Any) -> SplitData:
    if not isinstance(data, SplitData):
        raise ValidationError(
            f"The 'splits' parameter of DQCallback must map split names to SplitData. "
            f"Got {type(data).__name__} for {name!r} instead."
        )
    n_inputs = len(next(iter(data.x.values()))) if isinstance(data.x, Mapping) else len(data.x)
    if n_inputs != len(data.texts):
        raise ValidationError(
            f"The 'splits' parameter of DQCallback must give as many texts as input rows for {name!r}. "
            f"Got {len(data.texts)} texts for {n_inputs} rows instead."
        )
    return data
