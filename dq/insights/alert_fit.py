"""The alert rules about how well the model fits: a model too weak for its DEP to mean much, and
classes over- or underfit (training against an evaluation split). The other rules, and their
order, are in :mod:`dq.insights.alerts`.
"""

from __future__ import annotations

from typing import Any

from dq.insights.alert_types import Alert, AlertContext, flag_count, judged_classes
from dq.splits import TRAINING


def rule_weak_model(ctx: AlertContext) -> list[Alert]:
    """A model too weak for its DEP to mean much: barely better than always predicting the
    majority class, or blind to a whole class. DEP then ranks that class's samples as errors."""
    t = ctx.thresholds
    report = ctx.class_report
    if report.empty or "support" not in report or report["support"].sum() == 0:
        return []
    support = report["support"].to_numpy(dtype=float)
    total = support.sum()
    accuracy = float((report["recall"].fillna(0).to_numpy() * support).sum() / total)
    majority = float(support.max() / total)
    skill = (accuracy - majority) / (1 - majority) if majority < 1 else 1.0
    blind = report[(report["support"] >= t.weak_min_support) & (report["recall"].fillna(0) <= t.weak_class_recall)]
    if skill >= t.weak_skill and blind.empty:
        return []
    top = str(report.loc[report["support"].idxmax(), "label"])
    blind_says = [
        f"{row.label!r} is recognised in {row.recall:.0%} of its {int(row.support):,} samples"
        for row in blind.head(3).itertuples()
    ]
    advice = "train longer (dq auto --epochs 20) or with more data, then look again."
    if skill < t.weak_skill:
        said = [f"accuracy {accuracy:.2f} against {majority:.2f} for always predicting {top!r}", *blind_says]
        message = (
            f"The model is too weak for DEP to mean much: {'; '.join(said)}. "
            f"High DEP may be the model's fault, not the label's: {advice}"
        )
        flt: dict[str, Any] = {"is_misclassified": True}
    else:
        message = (
            f"The model barely recognises some classes: {'; '.join(blind_says)}. "
            f"High DEP on their samples may be the model's fault, not the label's: {advice}"
        )
        flt = {"label": [str(x) for x in blind["label"]]}
    return [
        Alert(
            "weak_model",
            "high",
            message,
            f"(accuracy - majority rate) / (1 - majority rate) < {t.weak_skill}, or a class with support >= "
            f"{t.weak_min_support} and recall <= {t.weak_class_recall}",
            flt,
            flag_count(ctx, "is_misclassified") if skill < t.weak_skill else int(blind["support"].sum()),
        )
    ]


def rule_fit(ctx: AlertContext) -> list[Alert]:
    """Training vs evaluation per class: overfitting (gap) and underfitting (both low)."""
    t = ctx.thresholds
    if ctx.split == TRAINING or TRAINING not in ctx.other_reports:
        return []
    train = ctx.other_reports[TRAINING].set_index("label")
    report = judged_classes(ctx.class_report, t).set_index("label")
    common = report.index.intersection(train.index)
    alerts = []
    gap = (train.loc[common, "f1"] - report.loc[common, "f1"]).sort_values(ascending=False)
    for label, _gap in gap[gap >= t.overfit_gap].head(t.max_items).items():
        alerts.append(
            Alert(
                "overfitting_class",
                "medium",
                f"Class {label!r}: F1 {train.loc[label, 'f1']:.2f} on training but "
                f"{report.loc[label, 'f1']:.2f} on {ctx.split}.",
                f"training F1 - {ctx.split} F1 >= {t.overfit_gap}",
                {"label": label},
                int(report.loc[label, "support"]),
            )
        )
    both_low = [lab for lab in common if train.loc[lab, "f1"] < t.underfit_f1 and report.loc[lab, "f1"] < t.underfit_f1]
    for label in sorted(both_low, key=lambda lab: report.loc[lab, "f1"])[: t.max_items]:
        alerts.append(
            Alert(
                "underfitting_class",
                "medium",
                f"Class {label!r} is learnt poorly everywhere: F1 {train.loc[label, 'f1']:.2f} on "
                f"training, {report.loc[label, 'f1']:.2f} on {ctx.split}.",
                f"F1 < {t.underfit_f1} on both training and {ctx.split}",
                {"label": label},
                int(report.loc[label, "support"]),
            )
        )
    return alerts
