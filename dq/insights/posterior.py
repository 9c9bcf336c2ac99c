"""The combined posterior DEP is scored from: the epochs pooled as they are read, and the neighbour
view and any further views mixed in, each weight chosen by how well the mix predicts the given
labels (lowest log loss). See ``dq.insights.dep`` for the score and docs/dep.md for the evidence.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dq.errors import ValidationError

#: Candidate weights of the neighbor view in the combined posterior.
NEIGHBOR_WEIGHTS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6)
#: Candidate weights of each further view (another model's probabilities) in the combined posterior.
VIEW_WEIGHTS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
#: Floor on probabilities inside log losses.
LOG_EPS = 1e-6
#: Rows taken at a time where a computation makes a (rows, classes) temporary.
BLOCK_ROWS = 4096


@dataclass(frozen=True)
class Posterior:
    """The combined posterior and how it was built."""

    probs: np.ndarray  # (n, C) float32
    epochs: str  # "all", "late" or "last"
    neighbor_weight: float
    view_weights: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class EpochPools:
    """The pooled epochs a posterior is chosen from: the mean of every epoch and, for held-out
    outputs, the last epoch and (more than two epochs) the mean of the later half (in-sample
    outputs pool every epoch, so those two are not kept)."""

    all: np.ndarray  # (n, C) float32
    last: np.ndarray | None  # (n, C) float32; None for in-sample outputs
    late: np.ndarray | None
    n_epochs: int


def pool_epochs(read: Callable[[int], Any], n_epochs: int, *, in_sample: bool) -> EpochPools:
    """Pool ``n_epochs`` epochs read one at a time (``read(i)``: the (n, C) probabilities of the
    i-th, oldest first): memory holds the pools, never every epoch at once. The sums run in the
    order ``np.mean`` over stacked epochs takes, so the pools equal it.

    >>> P = np.array([[[0.6, 0.4]], [[0.9, 0.1]], [[0.8, 0.2]]], dtype=np.float32)
    >>> pools = pool_epochs(lambda i: P[i], 3, in_sample=False)
    >>> np.array_equal(pools.all, P.mean(axis=0)), np.array_equal(pools.late, P[1:].mean(axis=0))
    (True, True)
    """
    first_late = n_epochs // 2 if not in_sample and n_epochs > 2 else None
    total = late = last = None
    for i in range(n_epochs):
        probs = np.asarray(read(i), dtype=np.float32)
        total = probs.copy() if total is None else np.add(total, probs, out=total)
        if first_late is not None and i >= first_late:
            late = probs.copy() if late is None else np.add(late, probs, out=late)
        if i == n_epochs - 1 and not in_sample:
            last = probs
        del probs
    if total is None:
        raise ValidationError(f"The 'n_epochs' parameter must be at least 1. Got {n_epochs} instead.")
    total /= np.float32(n_epochs)
    if late is not None:
        late /= np.float32(n_epochs - n_epochs // 2)
    return EpochPools(total, last, late, n_epochs)


def combine_views(
    epoch_probs: np.ndarray | EpochPools,
    neighbor_probs: np.ndarray | None,
    labels: np.ndarray,
    *,
    in_sample: bool = False,
    views: dict[str, np.ndarray] | None = None,
) -> Posterior:
    """Pool the epochs, the neighbor view and any other views into one posterior, choosing how by log loss.

    The posterior is ``(1 - w_n - sum(w_v)) * B + w_n * N + sum(w_v * V)``: ``B`` the pooled
    epochs, ``N`` the neighbors' labels, ``V`` each further view (another model's probabilities,
    e.g. dq auto's lexical model). Every choice is the one whose posterior predicts the given
    labels best (lowest log loss): most labels are right, so a view that predicts them better
    gets weight, and one that adds nothing gets none.

    With ``in_sample`` (outputs of the model being trained on these very samples) every epoch is
    pooled: late epochs have memorised the given labels, wrong ones included, so they would win
    any log-loss choice against those labels while hiding the errors. The mean over the epochs is
    the training dynamics (data maps' confidence; its margin is the probability-space twin of the
    area under the margin): a wrong label is learned late, if at all.

    Parameters
    ----------
    epoch_probs : (E, n, C) float array or EpochPools
        Probabilities of every logged epoch, oldest first, or those epochs already pooled
        (:func:`pool_epochs`, with the same ``in_sample``).
    neighbor_probs : (n, C) float array or None
        Label distribution of each sample's neighbors (rows sum to 1).
    labels : (n,) int array
        Given labels (class indices); ``-1`` (unlabeled) samples are ignored for the choice.
    views : dict of name -> (n, C) float array, optional
        Further views' probabilities (cross-fitted, so their fit to the labels is honest).

    Examples
    --------
    >>> P = np.array([[[0.6, 0.4], [0.3, 0.7]], [[0.9, 0.1], [0.2, 0.8]]])
    >>> combine_views(P, None, np.array([0, 1])).epochs
    'last'
    >>> combine_views(P, None, np.array([0, 1]), views={"lexical": np.eye(2)}).view_weights
    {'lexical': 1.0}
    """
    pools = (
        epoch_probs
        if isinstance(epoch_probs, EpochPools)
        else pool_epochs(lambda i: epoch_probs[i], len(epoch_probs), in_sample=in_sample)
    )
    bases = {"all": pools.all}
    if not in_sample and pools.last is not None:
        bases["last"] = pools.last
        if pools.late is not None:
            bases["late"] = pools.late
    labeled = np.flatnonzero(labels >= 0)
    y = labels[labeled]
    views = views or {}
    # Only each sample's own-label column enters the log loss, so no (n, C) mix is built here.
    extra_y = [neighbor_probs[labeled, y] if neighbor_probs is not None else np.zeros(len(y))]
    extra_y += [v[labeled, y] for v in views.values()]
    grids = [NEIGHBOR_WEIGHTS if neighbor_probs is not None else (0.0,)] + [VIEW_WEIGHTS] * len(views)
    best: tuple[float, str, tuple[float, ...]] | None = None
    for name, base in bases.items():
        b_y = base[labeled, y]
        for weights in itertools.product(*grids):
            rest = 1.0 - sum(weights)
            if rest < -1e-9:
                continue
            mix = rest * b_y + sum(w * e for w, e in zip(weights, extra_y))
            loss = float(-np.log(np.clip(mix, LOG_EPS, 1)).mean()) if len(y) else 0.0
            if best is None or loss < best[0] - 1e-12:
                best = (loss, name, weights)
    assert best is not None
    _, name, weights = best
    # The mix is built in place, in blocks of rows: one (n, C) array in all. A pool of several
    # epochs is DEP's own and becomes the mix; the last epoch is the caller's and is copied.
    probs = bases[name].copy() if name == "last" else bases[name]
    probs *= max(0.0, 1.0 - sum(weights))
    for w, extra in zip(weights, [neighbor_probs, *views.values()]):
        if w > 0 and extra is not None:  # w > 0 only for views that were given
            for start in range(0, len(probs), BLOCK_ROWS):
                probs[start : start + BLOCK_ROWS] += w * extra[start : start + BLOCK_ROWS]
    view_weights = {v: round(float(w), 3) for v, w in zip(views, weights[1:])}
    return Posterior(np.asarray(probs, dtype=np.float32), name, round(float(weights[0]), 3), view_weights)
