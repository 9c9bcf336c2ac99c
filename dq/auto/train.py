"""Cross-fitted classifier head over fixed embeddings, yielding outputs epoch by epoch.

K softmax-regression heads (one per fold) are trained side by side, one epoch at a time, so
after every epoch each training sample gets probabilities from the head that did not see it
(out-of-fold), and every other split gets the average of the K heads. These per-epoch outputs
are the training dynamics DEP is built from.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from dq.config import CONFIG
from dq.errors import ValidationError


@dataclass(frozen=True)
class EpochOutputs:
    """Probabilities after one epoch: out-of-fold for training, fold-averaged for other splits."""

    epoch: int
    train_probs: np.ndarray  # (n_train, n_classes) float32
    other_probs: dict[str, np.ndarray]  # split -> (n, n_classes) float32


@dataclass(frozen=True)
class HeadSettings:
    """Optimisation settings of the softmax head."""

    epochs: int = CONFIG.auto_epochs
    folds: int = CONFIG.auto_folds
    seed: int = CONFIG.auto_seed
    batch_size: int = CONFIG.auto_batch_size
    learning_rate: float = CONFIG.auto_learning_rate
    weight_decay: float = CONFIG.auto_weight_decay


def check_folds(folds: int, n_training: int) -> None:
    """Refuse a number of cross-fitting folds that ``n_training`` samples cannot fill.

    >>> check_folds(5, 4)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    dq.errors.ValidationError: The 'folds' setting must be between 2 and the number of training samples (4). ...
    """
    if folds < 2 or folds > n_training:
        raise ValidationError(
            f"The 'folds' setting must be between 2 and the number of training samples ({n_training}). "
            f"Got {folds} instead."
        )


def fold_assignment(y: np.ndarray, *, folds: int, seed: int) -> np.ndarray:
    """Assign each sample a fold in ``0..folds-1``, stratified by class, reproducible by ``seed``.

    >>> fold_assignment(np.array([0, 0, 1, 1]), folds=2, seed=0).tolist()
    [0, 1, 0, 1]
    """
    rng = np.random.default_rng(seed)
    assignment = np.empty(len(y), dtype=np.int64)
    offset = 0
    # Dealing each class's shuffled members round-robin (continuing where the last class stopped)
    # keeps every fold's class mix and size balanced, even for classes smaller than ``folds``.
    for cls in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == cls))
        assignment[members] = (np.arange(len(members)) + offset) % folds
        offset += len(members)
    return assignment


def cross_fit(
    train_embs: np.ndarray,
    train_y: np.ndarray,
    n_classes: int,
    *,
    other_embs: dict[str, np.ndarray] | None = None,
    settings: HeadSettings = HeadSettings(),
    progress: bool = True,
) -> Iterator[EpochOutputs]:
    """Train ``settings.folds`` heads side by side and yield the outputs after every epoch.

    Parameters
    ----------
    train_embs : (n, d) float array
    train_y : (n,) int array of class indices in ``0..n_classes-1``
    other_embs : split name -> (m, d) embeddings to score with the fold-averaged heads

    Examples
    --------
    >>> rng = np.random.default_rng(0); X = rng.normal(size=(40, 3)); y = (X[:, 0] > 0).astype(int)
    >>> outs = list(cross_fit(X, y, 2, settings=HeadSettings(epochs=2, folds=4), progress=False))
    >>> len(outs), outs[-1].train_probs.shape
    (2, (40, 2))
    """
    check_folds(settings.folds, len(train_y))
    if settings.epochs < 1:
        raise ValidationError(f"The 'epochs' setting must be at least 1. Got {settings.epochs} instead.")
    return _compute_cross_fit(train_embs, train_y, n_classes, other_embs or {}, settings, progress)


def _compute_cross_fit(
    train_embs: np.ndarray,
    train_y: np.ndarray,
    n_classes: int,
    other_embs: dict[str, np.ndarray],
    settings: HeadSettings,
    progress: bool,
) -> Iterator[EpochOutputs]:
    import torch
    from tqdm.auto import tqdm

    torch.manual_seed(settings.seed)
    n_folds = settings.folds
    folds = fold_assignment(train_y, folds=n_folds, seed=settings.seed)
    x = torch.from_numpy(np.ascontiguousarray(train_embs, dtype=np.float32))
    y = torch.from_numpy(train_y.astype(np.int64))
    others = {s: torch.from_numpy(np.ascontiguousarray(e, dtype=np.float32)) for s, e in other_embs.items()}
    # The K heads live in one (K, d, C) tensor and step together through batched matmuls: the
    # per-step Python overhead is paid once for all folds, not K times. Adam and weight decay act
    # element-wise, so each head's slice is still optimised independently of the others.
    bound = 1.0 / np.sqrt(x.shape[1])
    weight = torch.nn.Parameter(torch.empty(n_folds, x.shape[1], n_classes).uniform_(-bound, bound))
    bias = torch.nn.Parameter(torch.zeros(n_folds, 1, n_classes))
    optimiser = torch.optim.AdamW([weight, bias], lr=settings.learning_rate, weight_decay=settings.weight_decay)
    fit_idx = [torch.from_numpy(np.flatnonzero(folds != k)) for k in range(n_folds)]
    held_idx = [np.flatnonzero(folds == k) for k in range(n_folds)]
    n_fit = max(len(f) for f in fit_idx)
    shuffler = torch.Generator().manual_seed(settings.seed)
    bar = tqdm(total=settings.epochs, desc="training heads", unit="epoch", disable=not progress, leave=False)
    for epoch in range(settings.epochs):
        # One shuffled pass per fold; shorter folds wrap around so all step in lockstep.
        order = torch.stack([f[torch.randperm(len(f), generator=shuffler)].repeat(2)[:n_fit] for f in fit_idx])
        for start in range(0, n_fit, settings.batch_size):
            batch = order[:, start : start + settings.batch_size]
            logits = torch.bmm(x[batch], weight) + bias
            loss = (
                torch.nn.functional.cross_entropy(logits.reshape(-1, n_classes), y[batch].reshape(-1), reduction="sum")
                / batch.shape[1]
            )
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        train_probs = np.empty((len(y), n_classes), dtype=np.float32)
        other_sums = {s: np.zeros((len(e), n_classes), dtype=np.float64) for s, e in others.items()}
        with torch.no_grad():
            for k in range(n_folds):
                held = held_idx[k]
                train_probs[held] = torch.softmax(x[held] @ weight[k] + bias[k], dim=1).numpy()
                for s, e in others.items():
                    other_sums[s] += torch.softmax(e @ weight[k] + bias[k], dim=1).numpy()
        bar.update(1)
        yield EpochOutputs(
            epoch=epoch,
            train_probs=train_probs,
            other_probs={s: (v / n_folds).astype(np.float32) for s, v in other_sums.items()},
        )
    bar.close()
