"""Compare a retrained run with the run it came from: metrics on the untouched evaluation splits, side by side."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from dq.errors import ValidationError
from dq.insights.compute import label_indices
from dq.insights.metrics import summary_metrics
from dq.splits import TEST, VALIDATION
from dq.store.reader import Run

#: Splits ``compare`` scores: labeled and never edited, so both runs face the same ground truth.
EVAL_SPLITS: tuple[str, ...] = (VALIDATION, TEST)
#: Rows of ``compare``'s frame per split, keys of ``summary_metrics`` (higher = better).
COMPARE_METRICS: tuple[str, ...] = ("accuracy", "macro_f1", "macro_precision", "macro_recall")
#: Paired bootstrap of the change: resamples of the split's rows, and the interval's coverage.
BOOTSTRAP_RESAMPLES = 500
BOOTSTRAP_COVERAGE = 0.95
BOOTSTRAP_SEED = 0


def compare(before: Run, after: Run, *, splits: Sequence[str] | None = None) -> pd.DataFrame:
    """Metrics of two runs on the evaluation splits they share, side by side (higher = better).

    Each run is scored by its last epoch's predictions against the labels of the split; classes
    are matched by name, so a class one run lacks still counts. Macro averages run over the
    classes present in the split (ground truth or prediction), as in ``dq.insights.metrics``.

    Parameters
    ----------
    before, after : Run
        Typically a run and its retrained copy (``retrain``), whose evaluation splits are the same.
    splits : sequence of str, optional
        Among ``validation`` and ``test``; default every one of them that both runs hold.

    Returns
    -------
    pandas.DataFrame
        Columns ``split``, ``metric`` (accuracy, macro_f1, macro_precision, macro_recall),
        ``before``, ``after``, ``change`` (after − before), ``change_low`` / ``change_high`` (a 95%
        paired bootstrap interval of the change: the split's rows resampled, both runs scored on
        the same resample) and ``beyond_noise`` (the interval excludes 0); no rows when no split
        is shared.

    Examples
    --------
    >>> compare(Run("runs/demo/banking77"), Run("runs/demo/banking77-fixed-1a2b3c4d"))  # doctest: +SKIP
      split    metric  before  after  change  change_low  change_high  beyond_noise
    0  test  accuracy  0.912  0.921  0.009       0.003        0.015          True
    ...
    """
    for param, value in (("before", before), ("after", after)):
        if not isinstance(value, Run):
            raise ValidationError(
                f"The '{param}' parameter of compare must be a Run. Got {type(value).__name__} instead."
            )
    shared = [s for s in EVAL_SPLITS if s in before.splits and s in after.splits]
    if splits is None:
        splits = shared
    else:
        splits = list(splits)
        bad = [s for s in splits if s not in shared]
        if bad:
            raise ValidationError(
                f"The 'splits' parameter of compare must name evaluation splits both runs hold "
                f"({shared}). Got {bad} instead."
            )
    return _compute_compare(before, after, splits)


def _compute_compare(before: Run, after: Run, splits: Sequence[str]) -> pd.DataFrame:
    names = list(dict.fromkeys([*before.labels, *after.labels]))
    rows = []
    for split in splits:
        frames = [run.samples(split, columns=["id", "label"]) for run in (before, after)]
        if not frames[0]["label"].value_counts().sort_index().equals(frames[1]["label"].value_counts().sort_index()):
            raise ValidationError(
                f"compare needs the same '{split}' samples in both runs: their labels differ "
                f"({before.path} vs {after.path})."
            )
        # Pair the rows by id (a retrain keeps the ids, possibly as text) so each resample scores
        # both models on the very same samples.
        order = _pairing(frames[0]["id"], frames[1]["id"], split)
        labels = label_indices(frames[0]["label"], names)
        preds = [_predictions(before, split, names), _predictions(after, split, names)[order]]
        scores = [summary_metrics(labels, p, names) for p in preds]
        low, high = _bootstrap_change(labels, preds[0], preds[1], names)
        for metric in COMPARE_METRICS:
            b, a = scores[0][metric], scores[1][metric]
            change = None if a is None or b is None else a - b
            lo, hi = low[metric], high[metric]
            beyond = None if change is None or lo is None or hi is None else bool(lo > 0 or hi < 0)
            rows.append(
                {
                    "split": split, "metric": metric, "before": b, "after": a, "change": change,
                    "change_low": low[metric], "change_high": high[metric], "beyond_noise": beyond,
                }
            )  # fmt: skip
    columns = ["split", "metric", "before", "after", "change", "change_low", "change_high", "beyond_noise"]
    return pd.DataFrame(rows, columns=columns)


def _pairing(before_ids: pd.Series, after_ids: pd.Series, split: str) -> np.ndarray:
    """For each row of ``before``, the row of ``after`` holding the same sample id."""
    position = {str(v): i for i, v in enumerate(after_ids)}
    order = np.array([position.get(str(v), -1) for v in before_ids], dtype=np.int64)
    if len(before_ids) != len(after_ids) or (order < 0).any():
        raise ValidationError(f"compare needs the same '{split}' samples in both runs: their ids differ.")
    return order


def _predictions(run: Run, split: str, class_names: list[str]) -> np.ndarray:
    """``run``'s last-epoch predictions on ``split`` as indices of ``class_names``."""
    position = {name: i for i, name in enumerate(class_names)}
    to_names = np.array([position[c] for c in run.labels], dtype=np.int64)
    return to_names[run.probs(split).argmax(axis=1)]


def _bootstrap_change(
    labels: np.ndarray, before: np.ndarray, after: np.ndarray, class_names: list[str]
) -> tuple[dict[str, float | None], dict[str, float | None]]:
    """Per metric, the bounds of the paired bootstrap interval of ``after - before``."""
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    changes: dict[str, list[float]] = {m: [] for m in COMPARE_METRICS}
    labeled = np.flatnonzero(labels >= 0)
    for _ in range(BOOTSTRAP_RESAMPLES if len(labeled) else 0):
        rows = labeled[rng.integers(0, len(labeled), len(labeled))]
        b = summary_metrics(labels[rows], before[rows], class_names)
        a = summary_metrics(labels[rows], after[rows], class_names)
        for metric in COMPARE_METRICS:
            changes[metric].append(a[metric] - b[metric])
    tail = (1 - BOOTSTRAP_COVERAGE) / 2 * 100
    low = {m: float(np.percentile(v, tail)) if v else None for m, v in changes.items()}
    high = {m: float(np.percentile(v, 100 - tail)) if v else None for m, v in changes.items()}
    return low, high
