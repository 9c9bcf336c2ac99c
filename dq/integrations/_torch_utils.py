"""PyTorch pieces shared by the integrations: an inference pass that leaves training exactly as it was.

The end-of-epoch pass must not change what training does next, so it runs the model in eval mode
without gradients and puts back the train/eval mode and every random state training reads
(a DataLoader draws its base seed from torch's global generator even when it does not shuffle).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch

from dq.errors import ValidationError


@contextmanager
def frozen_rng() -> Iterator[None]:
    """Run the block, then restore the torch (CPU and CUDA), NumPy and ``random`` generators.

    >>> with frozen_rng():
    ...     _ = torch.rand(1)
    """
    torch_state = torch.get_rng_state()
    cuda_states = torch.cuda.get_rng_state_all() if torch.cuda.is_available() and torch.cuda.is_initialized() else None
    numpy_state = np.random.get_state()
    python_state = random.getstate()
    try:
        yield
    finally:
        torch.set_rng_state(torch_state)
        if cuda_states is not None:
            torch.cuda.set_rng_state_all(cuda_states)
        np.random.set_state(numpy_state)
        random.setstate(python_state)


@contextmanager
def inference(model: torch.nn.Module) -> Iterator[None]:
    """Eval mode and no gradients inside the block, the model's previous mode after it.

    >>> net = torch.nn.Dropout(0.5).train()
    >>> with inference(net):
    ...     net.training
    False
    >>> net.training
    True
    """
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        model.train(was_training)


def to_numpy(tensor: torch.Tensor) -> np.ndarray:
    """A detached float32 NumPy copy of ``tensor``."""
    return tensor.detach().to(device="cpu", dtype=torch.float32).numpy()


def first_token(tensor: torch.Tensor) -> torch.Tensor:
    """``(batch, tokens, dim)`` → the first token's ``(batch, dim)``; 2-D tensors are returned as they are."""
    return tensor[:, 0] if tensor.ndim == 3 else tensor


def logits_of(output: Any) -> torch.Tensor:
    """The logits in a model's output: a tensor, a ``ModelOutput``/dict with ``logits``, or a tuple's first item.

    >>> logits_of((torch.zeros(2, 3), "ignored")).shape
    torch.Size([2, 3])
    """
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, dict) and "logits" in output:
        return output["logits"]
    if getattr(output, "logits", None) is not None:
        return output.logits
    if isinstance(output, (tuple, list)) and output and isinstance(output[0], torch.Tensor):
        return output[0]
    raise ValidationError(
        "The output of the model must be a tensor of logits, a ModelOutput or dict with 'logits', or a "
        f"tuple starting with the logits. Got {type(output).__name__} instead."
    )
