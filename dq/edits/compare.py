"""Compare a retrained run with the run it came from: metrics on the untouched evaluation splits, side by side."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

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
        ``before``, ``after`` and ``change`` (after − before); no rows when no split is shared.

    Examples
    --------
    >>> compare(Run("runs/demo/banking77"), Run("runs/demo/banking77-fixed-1a2b3c4d"))  # doctest: +SKIP
      split    metric  before  after  change
    0  test  accuracy  0.912  0.921  0.009
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
        truth = [run.samples(split, columns=["label"])["label"] for run in (before, after)]
        if not truth[0].value_counts().sort_index().equals(truth[1].value_counts().sort_index()):
            raise ValidationError(
                f"compare needs the same '{split}' samples in both runs: their labels differ "
                f"({before.path} vs {after.path})."
            )
        scores = [_split_metrics(run, split, labels, names) for run, labels in zip((before, after), truth)]
        for metric in COMPARE_METRICS:
            b, a = scores[0][metric], scores[1][metric]
            change = None if a is None or b is None else a - b
            rows.append({"split": split, "metric": metric, "before": b, "after": a, "change": change})
    return pd.DataFrame(rows, columns=["split", "metric", "before", "after", "change"])


def _split_metrics(run: Run, split: str, labels: pd.Series, class_names: list[str]) -> dict[str, Any]:
    """Metrics of ``run``'s last-epoch predictions on ``split``; classes indexed by ``class_names``."""
    position = {name: i for i, name in enumerate(class_names)}
    to_names = np.array([position[c] for c in run.labels], dtype=np.int64)
    preds = to_names[run.probs(split).argmax(axis=1)]
    return summary_metrics(label_indices(labels, class_names), preds, class_names)
