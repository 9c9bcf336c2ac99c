"""Alerts: typed findings with a severity, a one-line explanation, the rule that fired and the
sample filter they stand for. Rules run in the explicit order of :data:`RULES`; the types they
return and read are in :mod:`dq.insights.alert_types`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from dq.insights.alert_fit import rule_fit, rule_weak_model
from dq.insights.alert_types import (
    FIRST_KINDS,
    HARD_ERROR_RATE,
    SEVERITIES,
    Alert,
    AlertContext,
    AlertThresholds,
    flag_count,
    judged_classes,
)

__all__ = ["RULES", "SEVERITIES", "Alert", "AlertContext", "AlertThresholds", "find_alerts", "word_counts"]


def _share_severity(share: float, high: float, medium: float) -> str:
    return "high" if share >= high else "medium" if share >= medium else "low"


def rule_mislabeled(ctx: AlertContext) -> list[Alert]:
    n = flag_count(ctx, "is_mislabeled")
    if not n:
        return []
    t = ctx.thresholds
    share = n / max(ctx.samples.n_rows, 1)
    message = f"{n:,} samples ({share:.1%}) are likely mislabeled; see their suggested labels."
    if ctx.estimated_errors is not None:
        estimate, low, high = ctx.estimated_errors
        span = f" ({low:,}–{high:,})" if high > low else ""
        surest = "they are flagged" if n >= estimate else f"the {n:,} surest are flagged"
        message = f"About {estimate:,} labels{span} look wrong; {surest}: see their suggested labels."
    return [
        Alert(
            "likely_mislabeled",
            _share_severity(share, t.mislabeled_high_share, t.mislabeled_medium_share),
            message,
            "is_mislabeled: DEP ranks them high and the combined posterior prefers another label",
            {"is_mislabeled": True},
            n,
        )
    ]


def rule_misclassified(ctx: AlertContext) -> list[Alert]:
    n = flag_count(ctx, "is_misclassified")
    share = n / max(ctx.samples.n_rows, 1)
    if share < ctx.thresholds.misclassified_share:
        return []
    return [
        Alert(
            "misclassified",
            "medium",
            f"The model gets {n:,} samples ({share:.1%}) wrong.",
            f"share of pred != label >= {ctx.thresholds.misclassified_share:.0%}",
            {"is_misclassified": True},
            n,
        )
    ]


def rule_hard(ctx: AlertContext) -> list[Alert]:
    hard = {"dep_bucket": "hard"}
    n = ctx.samples.count(hard) if "dep_bucket" in ctx.samples.columns else 0
    share = n / max(ctx.samples.n_rows, 1)
    if share < ctx.thresholds.hard_share:
        return []
    # Only when it is true of these samples: the model gets most of them wrong (the bucket falls back
    # to the top DEP decile where no stretch of DEP is wrong half the time; that says nothing).
    wrong = (ctx.samples.mean("is_misclassified", hard) or 0.0) if "is_misclassified" in ctx.samples.columns else 0.0
    if wrong < HARD_ERROR_RATE:
        return []
    return [
        Alert(
            "hard_for_model",
            "medium",
            f"{n:,} samples ({share:.1%}) are hard for the model: it gets {wrong:.0%} of them wrong.",
            f"share of dep_bucket == 'hard' >= {ctx.thresholds.hard_share:.0%} and the model wrong on "
            f"at least {HARD_ERROR_RATE:.0%} of them",
            {"dep_bucket": "hard"},
            n,
        )
    ]


def rule_low_performing_classes(ctx: AlertContext) -> list[Alert]:
    t = ctx.thresholds
    if ctx.macro_f1 is None:
        return []
    bar = ctx.macro_f1 - t.low_f1_gap
    low = judged_classes(ctx.class_report, t)
    low = low[low["f1"] < bar].sort_values("f1").head(t.max_items)
    return [
        Alert(
            "low_performing_class",
            "high" if row.f1 < min(bar - t.low_f1_gap, t.low_f1_floor) else "medium",
            f"Class {row.label!r} has F1 {row.f1:.2f} (split macro F1 {ctx.macro_f1:.2f}).",
            f"f1 < macro F1 - {t.low_f1_gap} with support >= {t.min_support}",
            {"label": row.label},
            int(row.support),
        )
        for row in low.itertuples()
    ]


def rule_imbalance(ctx: AlertContext) -> list[Alert]:
    t = ctx.thresholds
    report = ctx.class_report[ctx.class_report["support"] > 0]
    if report.empty or ctx.macro_f1 is None:
        return []
    median = float(report["support"].median())
    rare = report[(report["support"] < t.imbalance_ratio * median) & (report["f1"] < ctx.macro_f1)]
    rare = rare.sort_values("f1").head(t.max_items)
    return [
        Alert(
            "class_imbalance",
            "medium",
            f"Class {row.label!r} has only {int(row.support)} samples (median {median:.0f}) and "
            f"F1 {row.f1:.2f}, below the macro F1 {ctx.macro_f1:.2f}: collect more of it.",
            f"support < {t.imbalance_ratio} x median support and f1 < macro F1",
            {"label": row.label},
            int(row.support),
        )
        for row in rare.itertuples()
    ]


def rule_overlap(ctx: AlertContext) -> list[Alert]:
    t = ctx.thresholds
    pairs = ctx.overlap[ctx.overlap["overlap"] >= t.overlap_min].head(t.max_items)
    return [
        Alert(
            "class_overlap",
            "high" if row.overlap >= 2 * t.overlap_min else "medium",
            f"Classes {row.class_a!r} and {row.class_b!r} overlap (score {row.overlap:.2f}, "
            f"{int(row.n_confused)} samples confused between them).",
            f"overlap >= {t.overlap_min}",
            {"label": [row.class_a, row.class_b], "pred": [row.class_a, row.class_b], "is_misclassified": True},
            int(row.n_confused),
        )
        for row in pairs.itertuples()
    ]


def rule_duplicates(ctx: AlertContext) -> list[Alert]:
    alerts = []
    n_dup = flag_count(ctx, "is_near_duplicate")
    n_conf = flag_count(ctx, "is_conflicting_duplicate")
    if n_conf:
        alerts.append(
            Alert(
                "conflicting_duplicates",
                "high",
                f"{n_conf:,} near-duplicate samples carry different labels.",
                "a near-duplicate group holds more than one label",
                {"is_conflicting_duplicate": True},
                n_conf,
            )
        )
    if n_dup:
        alerts.append(
            Alert(
                "near_duplicates",
                "low",
                f"{n_dup:,} samples are near duplicates of another sample.",
                "cosine similarity >= the duplicate threshold, or the same normalized text",
                {"is_near_duplicate": True},
                n_dup,
            )
        )
    return alerts


def rule_outliers(ctx: AlertContext) -> list[Alert]:
    alerts = []
    n_out = flag_count(ctx, "is_outlier")
    if n_out >= ctx.thresholds.outlier_min:
        alerts.append(
            Alert(
                "outliers",
                "low",
                f"{n_out:,} samples are outliers: few similar samples around them.",
                "mean similarity to the nearest neighbors is among the lowest of the split",
                {"is_outlier": True},
                n_out,
            )
        )
    n_cov = flag_count(ctx, "is_out_of_coverage")
    if n_cov >= ctx.thresholds.outlier_min:
        alerts.append(
            Alert(
                "out_of_coverage",
                "medium",
                f"{n_cov:,} {ctx.split} samples lie where the training data is sparse.",
                "farther from the training samples than the training outliers are",
                {"is_out_of_coverage": True},
                n_cov,
            )
        )
    return alerts


def rule_high_dep_clusters(ctx: AlertContext) -> list[Alert]:
    t = ctx.thresholds
    if ctx.clusters.empty or "avg_dep" not in ctx.clusters:
        return []
    mean = ctx.samples.mean("dep") or 0.0
    hot = ctx.clusters[
        (ctx.clusters["size"] >= t.cluster_min_size) & (ctx.clusters["avg_dep"] >= t.cluster_dep_ratio * mean)
    ]
    hot = hot.sort_values("avg_dep", ascending=False).head(t.max_items)
    return [
        Alert(
            "high_dep_cluster",
            "medium",
            f"Cluster {int(row.cluster)} ({', '.join(list(row.top_words)[:3]) or 'no keywords'}) has "
            f"mean DEP {row.avg_dep:.2f}, {row.avg_dep / max(mean, 1e-9):.1f}x the split's.",
            f"cluster mean DEP >= {t.cluster_dep_ratio} x split mean DEP, size >= {t.cluster_min_size}",
            {"cluster": int(row.cluster)},
            int(row.size),
        )
        for row in hot.itertuples()
    ]


def rule_uncertain(ctx: AlertContext) -> list[Alert]:
    n = flag_count(ctx, "is_on_boundary")
    share = n / max(ctx.samples.n_rows, 1)
    if share < ctx.thresholds.uncertain_share:
        return []
    return [
        Alert(
            "high_uncertainty",
            "low",
            f"{n:,} samples ({share:.1%}) sit on a decision boundary (top two classes nearly tied).",
            f"share of is_on_boundary >= {ctx.thresholds.uncertain_share:.0%}",
            {"is_on_boundary": True},
            n,
        )
    ]


def rule_lengths(ctx: AlertContext) -> list[Alert]:
    t = ctx.thresholds
    alerts = []
    for kind, cond, what in (
        ("empty_samples", {"n_words": 0}, "are empty (no words)"),
        ("very_short_samples", {"n_words": {"min": 1, "max": t.short_words}}, f"have at most {t.short_words} words"),
        (
            "very_long_samples",
            {"n_words": {"min": t.long_words}},
            f"have {t.long_words}+ words (the embedding model truncates them)",
        ),
    ):
        n = ctx.samples.count(cond)
        if n:
            alerts.append(
                Alert(
                    kind,
                    "high" if kind == "empty_samples" else "low",
                    f"{n:,} samples {what}.",
                    f"n_words {'== 0' if kind == 'empty_samples' else 'in range'}",
                    cond,
                    n,
                )
            )
    return alerts


#: The rules, in the order their alerts are listed (then sorted by severity, stably).
RULES: tuple[Callable[[AlertContext], list[Alert]], ...] = (
    rule_weak_model,
    rule_mislabeled,
    rule_duplicates,
    rule_low_performing_classes,
    rule_overlap,
    rule_imbalance,
    rule_fit,
    rule_high_dep_clusters,
    rule_hard,
    rule_misclassified,
    rule_uncertain,
    rule_outliers,
    rule_lengths,
)


def find_alerts(ctx: AlertContext) -> list[Alert]:
    """Run every rule of :data:`RULES`; :data:`FIRST_KINDS` first, then high severity first, then in rule order."""
    alerts = [alert for rule in RULES for alert in rule(ctx)]
    order = {s: i for i, s in enumerate(SEVERITIES)}
    first = {kind: i for i, kind in enumerate(FIRST_KINDS)}
    return sorted(alerts, key=lambda a: (first.get(a.kind, len(first)), order[a.severity]))


#: A word: a run of characters that are not whitespace as Python's ``str.split()`` knows it (RE2's
#: ``\s`` lacks \v, the separators \x1c-\x1f, NEL and the Unicode spaces).
_WORD = r"[^\t\n\x0b\f\r \x1c-\x1f\x85\p{Z}]+"


def word_counts(texts: pd.Series | pa.ChunkedArray) -> np.ndarray:
    """Words per text, as ``len(text.split())`` counts them (0 for a missing text), counted in Arrow:
    no list of words is ever built (at 5M texts that took gigabytes).

    >>> word_counts(pd.Series(["refund my card", "  a\u00a0b ", "", None])).tolist()
    [3, 2, 0, 0]
    """
    values = texts if isinstance(texts, pa.ChunkedArray) else pa.chunked_array([pa.array(texts, pa.large_string())])
    return pc.count_substring_regex(values, _WORD).fill_null(0).to_numpy().astype(np.int64)
