"""What an alert is: the Alert record, the thresholds the rules compare against, and what they look at."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

from dq.insights.filters import SampleFilter
from dq.insights.split_sql import SplitSQL

SEVERITIES = ("high", "medium", "low")
#: Alerts that come first whatever their severity: wrong labels are what the user came to fix.
FIRST_KINDS = ("weak_model", "likely_mislabeled", "conflicting_duplicates")
#: "Hard" means the model is wrong at least this often: where the DEP "hard" bucket starts
#: (dq.insights.compute.dep_thresholds), and what its samples must show for the hard alert to fire.
HARD_ERROR_RATE = 0.5


@dataclass(frozen=True)
class Alert:
    """One finding about a split."""

    kind: str
    severity: str  # "high", "medium" or "low"
    message: str  # one line
    rule: str  # the condition that fired, in words
    filter: SampleFilter  # the samples it stands for
    count: int  # how many samples match

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class AlertThresholds:
    """The numbers the rules compare against (named, in one place)."""

    mislabeled_high_share: float = 0.05
    mislabeled_medium_share: float = 0.01
    misclassified_share: float = 0.05
    hard_share: float = 0.10
    low_f1_gap: float = 0.15  # class F1 this far below the split's macro F1 fires ...
    low_f1_floor: float = 0.6  # ... with high severity when also below this (and twice the gap)
    min_support: int = 5  # classes with fewer samples are not judged on F1
    imbalance_ratio: float = 0.25  # support below this share of the median class support
    overlap_min: float = 0.15
    max_items: int = 5  # per-class / per-pair / per-cluster alerts kept (highest first)
    duplicate_share: float = 0.0  # any duplicate group fires
    outlier_min: int = 1
    cluster_dep_ratio: float = 1.5  # cluster mean DEP vs split mean DEP
    cluster_min_size: int = 10
    uncertain_share: float = 0.05
    overfit_gap: float = 0.15  # training F1 - evaluation F1
    underfit_f1: float = 0.6  # both training and evaluation F1 below this
    short_words: int = 2
    long_words: int = 200  # about the 256-token window of MiniLM: longer texts are truncated
    weak_skill: float = 0.25  # accuracy closing less of the gap from the majority-class rate to 1 ...
    weak_class_recall: float = 0.2  # ... or a class with this recall or less (support >= weak_min_support)
    weak_min_support: int = 10


@dataclass(frozen=True)
class AlertContext:
    """Everything the rules look at, for one split."""

    split: str
    samples: SplitSQL  # the per-sample insights, as SQL (counts and means)
    class_report: pd.DataFrame  # label, precision, recall, f1, support, n_predicted
    overlap: pd.DataFrame  # class_a, class_b, overlap, n_confused
    clusters: pd.DataFrame  # cluster, size, avg_dep, ...
    macro_f1: float | None
    #: class reports of the other splits of the run (for training vs evaluation rules)
    other_reports: dict[str, pd.DataFrame] = field(default_factory=dict)
    thresholds: AlertThresholds = AlertThresholds()
    #: (estimate, low, high) of how many labels are wrong (dq.insights.dep.estimate_error_range)
    estimated_errors: tuple[int, int, int] | None = None


def flag_count(ctx: AlertContext, column: str) -> int:
    """How many samples of the split raise the flag ``column`` (0 when the split lacks it)."""
    return ctx.samples.count({column: True}) if column in ctx.samples.columns else 0


def judged_classes(report: pd.DataFrame, t: AlertThresholds) -> pd.DataFrame:
    """The rows of a class report with enough support to be judged (``t.min_support``)."""
    return report[report["support"] >= t.min_support]
