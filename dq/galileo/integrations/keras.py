"""``dataquality.integrations.keras`` (and ``.legacy.keras``): log a Keras 3 model, any backend.

The model carries each sample's id through its input: :func:`add_sample_ids` appends the ids as one
more position on the inputs' last axis, a ``DataQualityLoggingLayer("ids")`` right after the input
takes them off again, and ``DataQualityLoggingLayer("embs")`` / ``("probs")`` mark the embedding and
the softmax output. ``DataQualityCallback()`` in ``model.fit(..., callbacks=[...])`` logs each
batch: training batches under ``training``, the batches of ``validation_data`` under ``test`` (as in
dataquality), at the epoch being trained. Compile with ``run_eagerly=True`` so that the layers see
real values. Ids must be integers below 2**24: they travel as float32 inputs.
"""

from __future__ import annotations

from typing import Any

from dq.integrations._extras import require

keras: Any = require("keras", integration="dq.galileo.integrations.keras", needs="Keras 3", extra="keras")

import numpy as np  # noqa: E402

from dq._util.validate import plain  # noqa: E402
from dq.errors import RunStateError, ValidationError  # noqa: E402
from dq.galileo import core  # noqa: E402
from dq.splits import TEST, TRAINING  # noqa: E402

__all__ = [
    "DataQualityCallback",
    "DataQualityLoggingLayer",
    "add_ids_to_numpy_arr",
    "add_sample_ids",
    "split_into_ids_and_numpy_arr",
]

#: Ids above this do not survive a float32 input exactly.
MAX_ID = 2**24
_WHAT = ("ids", "embs", "probs")
#: What the logging layers saw in the batch being run.
_seen: dict[str, np.ndarray] = {}


def add_sample_ids(orig_arr: Any, ids: Any) -> np.ndarray:
    """``orig_arr`` (n, ..., L) with each row's id appended on the last axis: (n, ..., L + 1), float.

    >>> add_sample_ids(np.array([[7, 8], [9, 10]]), [0, 1]).tolist()
    [[7.0, 8.0, 0.0], [9.0, 10.0, 1.0]]
    """
    arr = np.asarray(plain(orig_arr))
    id_arr = np.asarray(plain(ids)).reshape(-1)
    if len(id_arr) != len(arr):
        raise ValidationError(f"The 'ids' parameter must hold one id per row ({len(arr)}). Got {len(id_arr)} instead.")
    if id_arr.dtype.kind not in "iu" or (len(id_arr) and (id_arr.min() < 0 or id_arr.max() >= MAX_ID)):
        raise ValidationError(f"The 'ids' parameter must hold integers in [0, {MAX_ID}). Got {id_arr[:5].tolist()}...")
    column = np.broadcast_to(id_arr.reshape((-1,) + (1,) * (arr.ndim - 1)), arr.shape[:-1] + (1,))
    return np.concatenate([arr.astype(np.float64), column.astype(np.float64)], axis=-1)


#: dataquality's older name of :func:`add_sample_ids`.
add_ids_to_numpy_arr = add_sample_ids


def split_into_ids_and_numpy_arr(arr: Any) -> tuple[Any, np.ndarray]:
    """The inputs without their last position, and the ids it held (ints)."""
    values = np.asarray(plain(arr))
    return values[..., :-1], values[..., -1].reshape(len(values), -1)[:, 0].astype(np.int64)


def _record(what: str, tensor: Any) -> None:
    if core.symbolic(tensor):
        return  # the model being built (symbolic): nothing to see yet
    try:
        value = np.asarray(plain(tensor))
    except (TypeError, ValueError, RuntimeError, AttributeError, NotImplementedError):
        return  # a graph tensor (compiled without run_eagerly): the callback says so
    _seen[what] = value


class DataQualityLoggingLayer(keras.layers.Layer):
    """``"ids"``: takes the ids off the input's last position; ``"embs"`` / ``"probs"``: marks the
    embeddings / the probabilities (passed through unchanged)."""

    def __init__(self, what_to_log: str, **kwargs: Any) -> None:
        if what_to_log not in _WHAT:
            raise ValidationError(f"The 'what_to_log' parameter must be one of {list(_WHAT)}. Got {what_to_log!r}.")
        super().__init__(**kwargs)
        self.what_to_log = what_to_log

    def call(self, inputs: Any) -> Any:
        if self.what_to_log == "ids":
            _record("ids", inputs[..., -1])
            return inputs[..., :-1]
        _record(self.what_to_log, inputs)
        return inputs

    def compute_output_shape(self, input_shape: Any) -> Any:
        if self.what_to_log == "ids":
            return (*input_shape[:-1], None if input_shape[-1] is None else input_shape[-1] - 1)
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "what_to_log": self.what_to_log}


class DataQualityCallback(keras.callbacks.Callback):
    """Logs every training batch (``training``) and validation batch (``test``) at the current epoch."""

    def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
        core.set_epoch(epoch)

    def on_train_batch_begin(self, batch: int, logs: Any = None) -> None:
        _seen.clear()
        core.current().split = TRAINING

    def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
        self._log()

    def on_test_batch_begin(self, batch: int, logs: Any = None) -> None:
        _seen.clear()
        core.current().split = TEST

    def on_test_batch_end(self, batch: int, logs: Any = None) -> None:
        self._log()

    def _log(self) -> None:
        missing = [what for what in _WHAT if what not in _seen]
        if missing:
            raise RunStateError(
                f"DataQualityCallback saw no {missing} in this batch: pass the model's inputs, embeddings and "
                "probabilities through DataQualityLoggingLayer('ids'), ('embs') and ('probs'), and compile it "
                "with run_eagerly=True."
            )
        ids = _seen["ids"].reshape(len(_seen["ids"]), -1)[:, 0]
        core.log_model_outputs(ids=np.rint(ids).astype(np.int64), embs=_seen["embs"], probs=_seen["probs"])
        _seen.clear()
