"""dq.insights.alerts and dq.insights.filters: every rule fires on a planted problem and stays quiet on
clean input; alerts are ordered by severity; each alert's filter selects the samples it counts.

Contexts are built by hand from small frames with the columns ``dq.insights.compute`` produces; the
class report comes from ``dq.insights.metrics.class_report`` over the frame so it always agrees with it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dq.errors import ValidationError
from dq.insights import alerts
from dq.insights.alerts import RULES, SEVERITIES, Alert, AlertContext, AlertThresholds, find_alerts
from dq.insights.filters import apply_filter, describe_filter
from dq.insights.metrics import class_report
from dq.insights.split_sql import SplitSQL
from dq.splits import TRAINING, VALIDATION

N_PER_CLASS = 50  # 4 classes -> 200 samples: 1 sample is 0.5%, 2 are 1%, 10 are 5%


# --- building contexts ----------------------------------------------------------------------------


def _clean_frame(n_per_class: int = N_PER_CLASS, *, seed: int = 0) -> pd.DataFrame:
    """Four classes, every prediction right, low DEP, no flags, one cluster per class, 5-29 words."""
    names = np.array(["billing", "delivery", "refund", "security"], dtype=object)
    rng = np.random.default_rng(seed)
    label = np.repeat(names, n_per_class)
    n = len(label)
    n_words = rng.integers(5, 30, n)
    return pd.DataFrame(
        {
            "id": np.arange(n),
            "text": [" ".join(f"w{j}" for j in range(k)) for k in n_words],
            "label": label,
            "pred": label.copy(),
            "dep": rng.uniform(0.02, 0.2, n).astype(np.float32),
            "dep_bucket": "easy",
            "is_misclassified": False,
            "is_mislabeled": False,
            "is_on_boundary": False,
            "is_near_duplicate": False,
            "is_conflicting_duplicate": False,
            "is_outlier": False,
            "is_out_of_coverage": False,
            "cluster": np.repeat(np.arange(len(names)), n_per_class),
            "n_words": n_words,
        }
    )


def _report(frame: pd.DataFrame) -> pd.DataFrame:
    names = sorted(set(frame["label"]) | set(frame["pred"]))
    index = {name: i for i, name in enumerate(names)}
    return class_report(frame["label"].map(index).to_numpy(), frame["pred"].map(index).to_numpy(), names)


def _macro_f1(report: pd.DataFrame) -> float:
    present = (report["support"] > 0) | (report["n_predicted"] > 0)
    return float(report.loc[present, "f1"].mean())


def _overlap(frame: pd.DataFrame, scores: dict[tuple[str, str], float] | None = None) -> pd.DataFrame:
    """Every class pair (overlap 0.02 unless ``scores`` says otherwise), sorted like class_overlap."""
    names = sorted(set(frame["label"]))
    rows = []
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            confused = ((frame["label"] == a) & (frame["pred"] == b)) | ((frame["label"] == b) & (frame["pred"] == a))
            rows.append(
                {
                    "class_a": a,
                    "class_b": b,
                    "overlap": (scores or {}).get((a, b), 0.02),
                    "n_confused": int(confused.sum()),
                }
            )
    table = pd.DataFrame(rows).sort_values(["overlap", "n_confused"], ascending=False, kind="stable")
    return table.reset_index(drop=True)


def _clusters(frame: pd.DataFrame) -> pd.DataFrame:
    groups = frame.groupby("cluster")
    ids = groups.size().index.to_numpy()
    return pd.DataFrame(
        {
            "cluster": ids,
            "size": groups.size().to_numpy(),
            "avg_dep": groups["dep"].mean().to_numpy(),
            "top_words": [[f"kw{c}a", f"kw{c}b", f"kw{c}c", f"kw{c}d"] for c in ids],
        }
    )


#: Each context's frame, by its SQL view's id: what an alert's filter is checked against.
_FRAMES: dict[int, pd.DataFrame] = {}


def _context(
    frame: pd.DataFrame,
    *,
    split: str = VALIDATION,
    report: pd.DataFrame | None = None,
    training_report: pd.DataFrame | None = None,
    overlap: dict[tuple[str, str], float] | None = None,
    clusters: pd.DataFrame | None = None,
    macro_f1: float | None = None,
    thresholds: AlertThresholds = AlertThresholds(),
) -> AlertContext:
    """An AlertContext over ``frame``; tables derived from it unless given.

    An evaluation split gets a training report equal to its own by default (no train/eval gap).
    """
    report = _report(frame) if report is None else report
    others = {} if split == TRAINING else {TRAINING: report.copy() if training_report is None else training_report}
    samples = SplitSQL(frame)
    _FRAMES[id(samples)] = frame
    return AlertContext(
        split=split,
        samples=samples,
        class_report=report,
        overlap=_overlap(frame, overlap),
        clusters=_clusters(frame) if clusters is None else clusters,
        macro_f1=_macro_f1(report) if macro_f1 is None else macro_f1,
        other_reports=others,
        thresholds=thresholds,
    )


@pytest.fixture
def frame() -> pd.DataFrame:
    """A fresh clean frame for each test to plant its problem in."""
    return _clean_frame()


def _plant(frame: pd.DataFrame, column: str, rows: Any, value: Any = True) -> np.ndarray:
    """Set ``column`` at positional ``rows``; return the boolean mask of those rows."""
    frame.loc[frame.index[rows], column] = value
    mask = np.zeros(len(frame), dtype=bool)
    mask[rows] = True
    return mask


def _misclassify(frame: pd.DataFrame, label: str, n: int, as_label: str) -> np.ndarray:
    rows = np.flatnonzero(frame["label"].to_numpy() == label)[:n]
    frame.loc[frame.index[rows], "pred"] = as_label
    frame.loc[frame.index[rows], "is_misclassified"] = True
    mask = np.zeros(len(frame), dtype=bool)
    mask[rows] = True
    return mask


def _check_alert(alert: Alert, kind: str, severity: str) -> None:
    assert alert.kind == kind
    assert alert.severity == severity
    assert alert.message and "\n" not in alert.message and alert.message == alert.message.strip()
    assert alert.rule and "\n" not in alert.rule
    assert isinstance(alert.count, int) and alert.count > 0


def _selects(ctx: AlertContext, alert: Alert) -> np.ndarray:
    """The rows an alert's filter selects in the frame; its SQL count over the same frame agrees."""
    selected = apply_filter(_FRAMES[id(ctx.samples)], alert.filter).to_numpy()
    assert ctx.samples.count(alert.filter) == selected.sum()
    return selected


# --- every rule: quiet on clean input -------------------------------------------------------------


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.__name__)
@pytest.mark.parametrize("split", [TRAINING, VALIDATION])
def test_every_rule_is_quiet_on_clean_input(rule, split, frame):
    if split == TRAINING:
        frame = frame.drop(columns=["is_out_of_coverage"])  # compute.py adds it to evaluation splits only
    assert rule(_context(frame, split=split)) == []


def test_every_rule_has_a_firing_test():
    missing = [r.__name__ for r in RULES if f"test_{r.__name__}_fires" not in globals()]
    assert not missing, f"rules without a test that makes them fire: {missing}"


def test_find_alerts_is_empty_on_clean_input(frame):
    assert find_alerts(_context(frame)) == []


# --- rule_weak_model ------------------------------------------------------------------------------


def test_rule_weak_model_fires(frame):
    blind = _misclassify(frame, "security", 50, "billing")  # a whole class never recognised
    ctx = _context(frame)
    [alert] = alerts.rule_weak_model(ctx)
    _check_alert(alert, "weak_model", "high")
    assert alert.message.startswith("The model barely recognises some classes: 'security' is recognised in 0%")
    assert "--epochs" in alert.message
    np.testing.assert_array_equal(_selects(ctx, alert), blind)  # the class's samples
    assert find_alerts(ctx)[0].kind == "weak_model"  # said first, before anything it may explain


def test_rule_weak_model_fires_near_the_majority_rate():
    # 180 "ham", 20 "spam", spam mostly predicted ham: accuracy 0.92 looks fine, but always
    # predicting "ham" scores 0.90 (seen on 300 SMS rows: DEP then ranked every spam as an error).
    frame = _clean_frame()
    frame["label"] = np.where(np.arange(len(frame)) < 180, "ham", "spam")
    frame["pred"] = frame["label"]
    spam = np.flatnonzero(frame["label"].to_numpy() == "spam")[:16]
    frame.loc[frame.index[spam], "pred"] = "ham"
    frame.loc[frame.index[spam], "is_misclassified"] = True
    [alert] = alerts.rule_weak_model(_context(frame))
    assert alert.message.startswith("The model is too weak for DEP to mean much: accuracy 0.92 against 0.90 for")


def test_rule_weak_model_is_quiet_for_a_model_that_learnt(frame):
    _misclassify(frame, "security", 10, "billing")  # recall 0.8: learnt, with errors
    assert alerts.rule_weak_model(_context(frame)) == []


# --- rule_mislabeled ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n_flagged", "severity"), [(12, "high"), (10, "high"), (3, "medium"), (2, "medium"), (1, "low")]
)
def test_rule_mislabeled_fires(frame, n_flagged, severity):
    planted = _plant(frame, "is_mislabeled", np.arange(7, 7 + 17 * n_flagged, 17))
    ctx = _context(frame)
    [alert] = alerts.rule_mislabeled(ctx)
    _check_alert(alert, "likely_mislabeled", severity)
    assert alert.count == n_flagged
    assert f"{n_flagged / len(frame):.1%}" in alert.message
    np.testing.assert_array_equal(_selects(ctx, alert), planted)


@pytest.mark.parametrize(
    ("estimate", "expected"),
    [
        ((1900, 1500, 2300), "About 1,900 labels (1,500–2,300) look wrong; the 6 surest are flagged"),
        ((6, 6, 6), "About 6 labels look wrong; they are flagged"),
    ],
)
def test_rule_mislabeled_says_the_estimate_and_its_range(frame, estimate, expected):
    _plant(frame, "is_mislabeled", np.arange(6))
    ctx = dataclasses.replace(_context(frame), estimated_errors=estimate)
    [alert] = alerts.rule_mislabeled(ctx)
    assert alert.message.startswith(expected) and alert.count == 6


# --- rule_duplicates ------------------------------------------------------------------------------


def test_rule_duplicates_fires(frame):
    near = _plant(frame, "is_near_duplicate", [3, 4, 60, 61, 62])
    conflicting = _plant(frame, "is_conflicting_duplicate", [60, 61, 62])
    ctx = _context(frame)
    conflict_alert, near_alert = alerts.rule_duplicates(ctx)
    _check_alert(conflict_alert, "conflicting_duplicates", "high")
    _check_alert(near_alert, "near_duplicates", "low")
    assert (conflict_alert.count, near_alert.count) == (3, 5)
    np.testing.assert_array_equal(_selects(ctx, conflict_alert), conflicting)
    np.testing.assert_array_equal(_selects(ctx, near_alert), near)


def test_rule_duplicates_without_conflicts_is_only_a_low_alert(frame):
    _plant(frame, "is_near_duplicate", [3, 4])
    [alert] = alerts.rule_duplicates(_context(frame))
    _check_alert(alert, "near_duplicates", "low")


# --- rule_low_performing_classes ------------------------------------------------------------------


def test_rule_low_performing_classes_fires(frame):
    _misclassify(frame, "refund", 40, "billing")  # refund F1 0.33, billing 0.71, macro 0.76
    ctx = _context(frame)
    [alert] = alerts.rule_low_performing_classes(ctx)
    _check_alert(alert, "low_performing_class", "high")
    assert "'refund'" in alert.message and "0.33" in alert.message
    assert alert.count == N_PER_CLASS
    np.testing.assert_array_equal(_selects(ctx, alert), frame["label"].to_numpy() == "refund")


@pytest.mark.parametrize(("f1", "severity"), [(0.70, "medium"), (0.50, "high"), (0.62, "medium")])
def test_rule_low_performing_classes_severity(frame, f1, severity):
    # macro F1 0.9: bar 0.75; high below min(0.75 - 0.15, 0.6) = 0.6.
    report = _report(frame).assign(f1=[1.0, 1.0, f1, 1.0])
    [alert] = alerts.rule_low_performing_classes(_context(frame, report=report, macro_f1=0.9))
    _check_alert(alert, "low_performing_class", severity)


def test_rule_low_performing_classes_ignores_tiny_classes_and_keeps_the_worst_first(frame):
    report = _report(frame).assign(f1=[0.2, 0.5, 0.1, 1.0], support=[50, 50, 4, 50])
    found = alerts.rule_low_performing_classes(_context(frame, report=report, macro_f1=0.9))
    assert [a.filter["label"] for a in found] == ["billing", "delivery"]  # refund: support 4 < 5


def test_rule_low_performing_classes_keeps_at_most_max_items(frame):
    report = _report(frame).assign(f1=[0.1, 0.2, 0.3, 0.4])
    found = alerts.rule_low_performing_classes(
        _context(frame, report=report, macro_f1=0.9, thresholds=AlertThresholds(max_items=2))
    )
    assert [a.filter["label"] for a in found] == ["billing", "delivery"]


def test_rule_low_performing_classes_without_macro_f1_is_quiet(frame):
    _misclassify(frame, "refund", 40, "billing")
    ctx = replace(_context(frame), macro_f1=None)
    assert alerts.rule_low_performing_classes(ctx) == []


# --- rule_overlap ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("score", "severity"), [(0.35, "high"), (0.2, "medium")])
def test_rule_overlap_fires(frame, score, severity):
    confused = _misclassify(frame, "billing", 4, "refund") | _misclassify(frame, "refund", 3, "billing")
    ctx = _context(frame, overlap={("billing", "refund"): score})
    [alert] = alerts.rule_overlap(ctx)
    _check_alert(alert, "class_overlap", severity)
    assert "'billing'" in alert.message and "'refund'" in alert.message
    assert alert.count == 7 == confused.sum()
    selected = _selects(ctx, alert)
    # The filter covers the confused samples and nothing outside the pair.
    assert selected[confused].all()
    assert frame["label"][selected].isin(["billing", "refund"]).all()


def test_rule_overlap_filter_selects_exactly_the_confused_samples(frame):
    confused = _misclassify(frame, "billing", 4, "refund") | _misclassify(frame, "refund", 3, "billing")
    ctx = _context(frame, overlap={("billing", "refund"): 0.35})
    [alert] = alerts.rule_overlap(ctx)
    assert _selects(ctx, alert).sum() == alert.count
    np.testing.assert_array_equal(_selects(ctx, alert), confused)


def test_rule_overlap_below_threshold_is_quiet(frame):
    _misclassify(frame, "billing", 4, "refund")
    assert alerts.rule_overlap(_context(frame, overlap={("billing", "refund"): 0.14})) == []


# --- rule_imbalance -------------------------------------------------------------------------------


def _with_rare_class(n_rare: int, n_wrong: int) -> pd.DataFrame:
    frame = _clean_frame()
    rare = np.flatnonzero(frame["label"].to_numpy() == "security")
    frame = frame.drop(index=frame.index[rare[n_rare:]]).reset_index(drop=True)
    _misclassify(frame, "security", n_wrong, "billing")
    return frame


def test_rule_imbalance_fires():
    frame = _with_rare_class(n_rare=6, n_wrong=2)  # support 6 < 0.25 x median 50; F1 0.8 < macro
    ctx = _context(frame)
    [alert] = alerts.rule_imbalance(ctx)
    _check_alert(alert, "class_imbalance", "medium")
    assert "'security'" in alert.message and "only 6 samples" in alert.message
    assert alert.count == 6
    np.testing.assert_array_equal(_selects(ctx, alert), frame["label"].to_numpy() == "security")


def test_rule_imbalance_is_quiet_for_a_rare_class_the_model_learns_well():
    assert alerts.rule_imbalance(_context(_with_rare_class(n_rare=6, n_wrong=0))) == []


# --- rule_fit -------------------------------------------------------------------------------------


def test_rule_fit_fires(frame):
    training = _report(_clean_frame(seed=1))  # F1 1.0 everywhere
    _misclassify(frame, "refund", 20, "delivery")  # validation F1: refund 0.75, delivery 0.83
    ctx = _context(frame, training_report=training)
    found = alerts.rule_fit(ctx)
    assert [a.filter for a in found] == [{"label": "refund"}, {"label": "delivery"}]
    for alert in found:
        _check_alert(alert, "overfitting_class", "medium")
        assert VALIDATION in alert.message
        assert alert.count == N_PER_CLASS
    np.testing.assert_array_equal(_selects(ctx, found[0]), frame["label"].to_numpy() == "refund")


def test_rule_fit_flags_a_class_learnt_poorly_on_both_splits(frame):
    training_frame = _clean_frame(seed=1)
    _misclassify(training_frame, "refund", 35, "delivery")
    _misclassify(frame, "refund", 35, "delivery")
    ctx = _context(frame, training_report=_report(training_frame))
    found = alerts.rule_fit(ctx)
    assert [a.kind for a in found] == ["underfitting_class"]
    _check_alert(found[0], "underfitting_class", "medium")
    assert found[0].filter == {"label": "refund"} and found[0].count == N_PER_CLASS


def test_rule_fit_is_quiet_on_training_and_without_a_training_report(frame):
    _misclassify(frame, "refund", 40, "delivery")
    perfect = _report(_clean_frame(seed=1))
    on_training = replace(_context(frame, split=TRAINING), other_reports={VALIDATION: perfect})
    assert alerts.rule_fit(on_training) == []
    assert alerts.rule_fit(replace(_context(frame), other_reports={})) == []


# --- rule_high_dep_clusters -----------------------------------------------------------------------


def test_rule_high_dep_clusters_fires(frame):
    hot = _plant(frame, "dep", frame["cluster"].to_numpy() == 2, 0.6)
    ctx = _context(frame)
    [alert] = alerts.rule_high_dep_clusters(ctx)
    _check_alert(alert, "high_dep_cluster", "medium")
    assert "Cluster 2" in alert.message and "kw2a, kw2b, kw2c" in alert.message and "kw2d" not in alert.message
    assert alert.count == N_PER_CLASS
    np.testing.assert_array_equal(_selects(ctx, alert), hot)


def test_rule_high_dep_clusters_says_when_a_cluster_has_no_keywords(frame):
    frame.loc[frame["cluster"] == 1, "dep"] = 0.7
    clusters = _clusters(frame)
    clusters["top_words"] = [[] for _ in range(len(clusters))]
    [alert] = alerts.rule_high_dep_clusters(_context(frame, clusters=clusters))
    assert "no keywords" in alert.message


def test_rule_high_dep_clusters_ignores_small_clusters(frame):
    frame.loc[frame.index[:8], "cluster"] = 9  # a cluster of 8 < cluster_min_size
    frame.loc[frame.index[:8], "dep"] = 0.9
    assert alerts.rule_high_dep_clusters(_context(frame)) == []
    assert alerts.rule_high_dep_clusters(replace(_context(frame), clusters=pd.DataFrame())) == []


# --- rule_hard / rule_misclassified / rule_uncertain ----------------------------------------------


def test_rule_hard_fires(frame):
    hard = _plant(frame, "dep_bucket", np.arange(0, 200, 9), "hard")  # 23 = 11.5%
    frame.loc[frame.index[[1, 2]], "dep_bucket"] = "ambiguous"
    frame.loc[frame.index[np.arange(0, 200, 9)[:15]], "is_misclassified"] = True  # 15 of the 23 wrong
    ctx = _context(frame)
    [alert] = alerts.rule_hard(ctx)
    _check_alert(alert, "hard_for_model", "medium")
    assert alert.count == 23 and "it gets 65% of them wrong" in alert.message
    np.testing.assert_array_equal(_selects(ctx, alert), hard)


def test_rule_hard_is_quiet_when_the_model_gets_the_hard_samples_right(frame):
    _plant(frame, "dep_bucket", np.arange(0, 200, 9), "hard")  # 11.5% "hard", but the model is right on them
    assert alerts.rule_hard(_context(frame)) == []


def test_rule_hard_below_its_share_is_quiet(frame):
    _plant(frame, "dep_bucket", np.arange(19), "hard")  # 9.5% < 10%
    assert alerts.rule_hard(_context(frame)) == []


def test_rule_misclassified_fires(frame):
    wrong = _misclassify(frame, "billing", 6, "refund") | _misclassify(frame, "delivery", 4, "security")
    ctx = _context(frame)
    [alert] = alerts.rule_misclassified(ctx)
    _check_alert(alert, "misclassified", "medium")
    assert alert.count == 10 and "5.0%" in alert.message
    np.testing.assert_array_equal(_selects(ctx, alert), wrong)


def test_rule_misclassified_below_its_share_is_quiet(frame):
    _misclassify(frame, "billing", 9, "refund")  # 4.5% < 5%
    assert alerts.rule_misclassified(_context(frame)) == []


def test_rule_uncertain_fires(frame):
    boundary = _plant(frame, "is_on_boundary", np.arange(5, 200, 19))  # 11 = 5.5%
    ctx = _context(frame)
    [alert] = alerts.rule_uncertain(ctx)
    _check_alert(alert, "high_uncertainty", "low")
    assert alert.count == 11
    np.testing.assert_array_equal(_selects(ctx, alert), boundary)


def test_rule_uncertain_below_its_share_is_quiet(frame):
    _plant(frame, "is_on_boundary", np.arange(9))
    assert alerts.rule_uncertain(_context(frame)) == []


# --- rule_outliers --------------------------------------------------------------------------------


def test_rule_outliers_fires(frame):
    outliers = _plant(frame, "is_outlier", [10, 150])
    uncovered = _plant(frame, "is_out_of_coverage", [11, 12, 13])
    ctx = _context(frame)
    outlier_alert, coverage_alert = alerts.rule_outliers(ctx)
    _check_alert(outlier_alert, "outliers", "low")
    _check_alert(coverage_alert, "out_of_coverage", "medium")
    assert (outlier_alert.count, coverage_alert.count) == (2, 3)
    assert VALIDATION in coverage_alert.message
    np.testing.assert_array_equal(_selects(ctx, outlier_alert), outliers)
    np.testing.assert_array_equal(_selects(ctx, coverage_alert), uncovered)


def test_rule_outliers_on_training_has_no_coverage_alert(frame):
    _plant(frame, "is_outlier", [10])
    [alert] = alerts.rule_outliers(_context(frame.drop(columns=["is_out_of_coverage"]), split=TRAINING))
    assert alert.kind == "outliers"


# --- rule_lengths ---------------------------------------------------------------------------------


def test_rule_lengths_fires(frame):
    empty = _plant(frame, "n_words", [0, 1], 0)
    short = _plant(frame, "n_words", [2], 1) | _plant(frame, "n_words", [3], 2)
    long = _plant(frame, "n_words", [4], 200) | _plant(frame, "n_words", [5], 901)
    frame.loc[frame.index[[6, 7]], "n_words"] = [3, 199]  # just outside both ranges
    ctx = _context(frame)
    found = {a.kind: a for a in alerts.rule_lengths(ctx)}
    assert list(found) == ["empty_samples", "very_short_samples", "very_long_samples"]
    _check_alert(found["empty_samples"], "empty_samples", "high")
    _check_alert(found["very_short_samples"], "very_short_samples", "low")
    _check_alert(found["very_long_samples"], "very_long_samples", "low")
    for kind, planted in (("empty_samples", empty), ("very_short_samples", short), ("very_long_samples", long)):
        assert found[kind].count == 2
        np.testing.assert_array_equal(_selects(ctx, found[kind]), planted, err_msg=kind)


# --- find_alerts ----------------------------------------------------------------------------------


def test_find_alerts_lists_high_first_then_rule_order(frame):
    _plant(frame, "is_mislabeled", np.arange(0, 200, 15))  # 14 = 7%: high
    _plant(frame, "is_near_duplicate", [20, 21])  # low
    _plant(frame, "n_words", [22], 0)  # empty sample: high, from the last rule
    _misclassify(frame, "billing", 12, "refund")  # 6%: medium
    _plant(frame, "is_outlier", [23])  # low
    _plant(frame, "is_out_of_coverage", [24])  # medium
    found = find_alerts(_context(frame))
    assert [a.kind for a in found] == [
        "likely_mislabeled",
        "empty_samples",  # high, in rule order
        "misclassified",
        "out_of_coverage",  # medium
        "near_duplicates",
        "outliers",  # low
    ]
    ranks = [SEVERITIES.index(a.severity) for a in found]
    assert ranks == sorted(ranks)


def test_likely_mislabeled_comes_first_whatever_its_severity(frame):
    _plant(frame, "is_mislabeled", [5])  # one sample: low severity
    _plant(frame, "n_words", [22], 0)  # empty sample: high
    _plant(frame, "is_near_duplicate", [20, 21])  # low
    assert [a.kind for a in find_alerts(_context(frame))] == ["likely_mislabeled", "empty_samples", "near_duplicates"]


def test_alerts_round_trip_through_to_dict(frame):
    _plant(frame, "is_mislabeled", [1, 2, 3])
    [alert] = find_alerts(_context(frame))
    data = alert.to_dict()
    assert set(data) == {"kind", "severity", "message", "rule", "filter", "count"}
    assert Alert(**data) == alert


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    flags=st.lists(
        st.tuples(st.booleans(), st.booleans(), st.booleans(), st.booleans(), st.booleans()), min_size=200, max_size=200
    ),
    words=st.lists(st.integers(0, 260), min_size=200, max_size=200),
    hard=st.lists(st.booleans(), min_size=200, max_size=200),
)
def test_every_alert_is_one_line_and_its_filter_counts_what_it_says(flags, words, hard):
    frame = _clean_frame()
    columns = ["is_mislabeled", "is_near_duplicate", "is_on_boundary", "is_outlier", "is_out_of_coverage"]
    frame[columns] = np.array(flags, dtype=bool)
    frame["is_conflicting_duplicate"] = frame["is_near_duplicate"] & frame["is_mislabeled"]
    frame["n_words"] = words
    frame["dep_bucket"] = np.where(hard, "hard", "easy")
    for alert in find_alerts(_context(frame)):
        assert alert.severity in SEVERITIES
        assert alert.message and "\n" not in alert.message
        assert int(apply_filter(frame, alert.filter).sum()) == alert.count, alert.kind


# --- filters --------------------------------------------------------------------------------------


@pytest.fixture
def samples() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "label": ["card", "refund", "card", "top_up", None],
            "dep": [0.9, 0.2, 0.5, np.nan, 0.7],
            "cluster": [0, 1, 2, 1, 0],
            "is_mislabeled": [True, False, False, True, False],
            "text": ["Lost my CARD", "refund please (now)", "card.declined", "top up failed", None],
        }
    )


@pytest.mark.parametrize(
    ("sample_filter", "expected"),
    [
        (None, [True] * 5),
        ({}, [True] * 5),
        ({"label": "card"}, [True, False, True, False, False]),
        ({"is_mislabeled": True}, [True, False, False, True, False]),
        ({"cluster": 1}, [False, True, False, True, False]),
        ({"label": ["refund", "top_up"]}, [False, True, False, True, False]),
        ({"cluster": (0, 2)}, [True, False, True, False, True]),
        ({"dep": {"min": 0.5}}, [True, False, True, False, True]),
        ({"dep": {"max": 0.5}}, [False, True, True, False, False]),
        ({"dep": {"min": 0.3, "max": 0.8}}, [False, False, True, False, True]),
        ({"dep": {"min": None, "max": 0.2}}, [False, True, False, False, False]),
        ({"text": {"contains": "card"}}, [True, False, True, False, False]),
        ({"text": {"contains": "(now)"}}, [False, True, False, False, False]),  # literal, not a regex
        ({"text": {"regex": r"^[a-z]+\.[a-z]+$"}}, [False, False, True, False, False]),
        ({"text": {"regex": "CARD"}}, [True, False, False, False, False]),  # regex is case-sensitive
        ({"label": "card", "dep": {"min": 0.6}}, [True, False, False, False, False]),
    ],
)
def test_apply_filter(samples, sample_filter, expected):
    mask = apply_filter(samples, sample_filter)
    assert mask.dtype == bool
    assert mask.tolist() == expected


def test_apply_filter_keeps_the_frame_index(samples):
    samples.index = [10, 20, 30, 40, 50]
    assert apply_filter(samples, {"label": "card"})[lambda m: m].index.tolist() == [10, 30]


@pytest.mark.parametrize(
    ("sample_filter", "words"),
    [
        ({"text": {"regex": "(unclosed"}}, ["regex", "'text'", "(unclosed"]),
        ({"nope": 1}, ["'nope'", "label"]),
        ({"dep": {"between": [0, 1]}}, ["'dep'", "between"]),
        ({"text": {"contains": "a", "regex": "b"}}, ["'text'"]),
    ],
)
def test_bad_filters_raise_one_line_validation_errors(samples, sample_filter, words):
    with pytest.raises(ValidationError) as info:
        apply_filter(samples, sample_filter)
    message = str(info.value)
    assert "\n" not in message
    for word in words:
        assert word in message


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(st.floats(0, 1, allow_nan=False), min_size=1, max_size=40),
    low=st.one_of(st.none(), st.floats(0, 1)),
    high=st.one_of(st.none(), st.floats(0, 1)),
)
def test_range_filter_matches_numpy(values, low, high):
    frame = pd.DataFrame({"dep": values})
    expected = np.ones(len(values), dtype=bool)
    arr = np.asarray(values)
    if low is not None:
        expected &= arr >= low
    if high is not None:
        expected &= arr <= high
    got = apply_filter(frame, {"dep": {"min": low, "max": high}} if (low, high) != (None, None) else None)
    np.testing.assert_array_equal(got.to_numpy(), expected)


@pytest.mark.parametrize(
    ("sample_filter", "text"),
    [
        (None, "all samples"),
        ({}, "all samples"),
        ({"label": "card"}, "label = 'card'"),
        ({"is_mislabeled": True}, "is_mislabeled = True"),
        ({"label": ["a", "b"], "dep": {"min": 0.5}}, "label in ['a', 'b'] and dep >= 0.5"),
        ({"n_words": {"min": 1, "max": 2}}, "n_words >= 1 and n_words <= 2"),
        ({"dep": {"max": 0.25}}, "dep <= 0.25"),
        ({"text": {"contains": "card"}}, "text contains 'card'"),
        ({"text": {"regex": "^top"}}, "text matches /^top/"),
    ],
)
def test_describe_filter(sample_filter, text):
    assert describe_filter(sample_filter) == text


def test_every_alert_filter_can_be_described(frame):
    _plant(frame, "is_mislabeled", [1])
    _plant(frame, "n_words", [2], 1)
    _plant(frame, "n_words", [3], 250)
    _misclassify(frame, "billing", 30, "refund")
    for alert in find_alerts(_context(frame, overlap={("billing", "refund"): 0.4})):
        text = describe_filter(alert.filter)
        assert text != "all samples" and "\n" not in text, alert.kind
