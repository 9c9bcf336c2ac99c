"""dq.insights.metrics and dq.insights.overlap: equal to scikit-learn, planted confusions found."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
    precision_score,
    recall_score,
)

from dq.errors import ValidationError
from dq.insights.metrics import (
    DEP_BIN_EDGES,
    UNLABELED,
    class_report,
    confusion,
    metric_value,
    summary_metrics,
)
from dq.insights.overlap import class_overlap, on_boundary, top_misclassified_pairs

MAX_CLASSES = 8
MAX_SAMPLES = 120


def _names(n_classes: int) -> list[str]:
    return [f"c{i}" for i in range(n_classes)]


@st.composite
def label_pred_arrays(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, int]:
    """Random labels (some unlabeled, some classes absent) and predictions."""
    n_classes = draw(st.integers(2, MAX_CLASSES))
    n = draw(st.integers(0, MAX_SAMPLES))
    # Draw from a random subset of classes, so absent classes are common.
    used = draw(st.lists(st.integers(0, n_classes - 1), min_size=1, max_size=n_classes, unique=True))
    labels = draw(st.lists(st.sampled_from([UNLABELED, *used]), min_size=n, max_size=n))
    preds = draw(st.lists(st.integers(0, n_classes - 1), min_size=n, max_size=n))
    return np.asarray(labels, dtype=np.int64), np.asarray(preds, dtype=np.int64), n_classes


def _labeled(labels: np.ndarray, preds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    keep = labels != UNLABELED
    return labels[keep], preds[keep]


# --- metrics against scikit-learn ----------------------------------------------------------------


@given(label_pred_arrays())
@settings(max_examples=150, deadline=None)
def test_confusion_and_class_report_equal_sklearn(data: tuple[np.ndarray, np.ndarray, int]) -> None:
    labels, preds, n_classes = data
    y, p = _labeled(labels, preds)
    every = list(range(n_classes))

    cm = confusion(labels, preds, n_classes)
    assert cm.dtype == np.int64
    if y.size:
        np.testing.assert_array_equal(cm, confusion_matrix(y, p, labels=every))
    else:
        assert not cm.any()

    report = class_report(labels, preds, _names(n_classes))
    assert report["label"].tolist() == _names(n_classes)
    np.testing.assert_array_equal(cm.sum(axis=1), report["support"])  # rows sum to supports
    np.testing.assert_array_equal(np.bincount(y, minlength=n_classes), report["support"])
    np.testing.assert_array_equal(np.bincount(p, minlength=n_classes), report["n_predicted"])
    if y.size:
        precision, recall, f1, support = precision_recall_fscore_support(y, p, labels=every, zero_division=0)
        np.testing.assert_allclose(report["precision"], precision)
        np.testing.assert_allclose(report["recall"], recall)
        np.testing.assert_allclose(report["f1"], f1)
        np.testing.assert_array_equal(report["support"], support)


@given(label_pred_arrays())
@settings(max_examples=150, deadline=None)
def test_summary_metrics_and_metric_value_equal_sklearn(data: tuple[np.ndarray, np.ndarray, int]) -> None:
    labels, preds, n_classes = data
    y, p = _labeled(labels, preds)
    summary = summary_metrics(labels, preds, _names(n_classes))
    assert summary["n"] == y.size
    assert summary["n_unlabeled"] == labels.size - y.size
    if not y.size:
        assert summary["accuracy"] is None and summary["macro_f1"] is None
        assert metric_value("f1", labels, preds, n_classes) is None
        return
    # scikit-learn's default `labels` is the union of the classes in y and p: the convention used.
    expected = {
        "accuracy": accuracy_score(y, p),
        "macro_f1": f1_score(y, p, average="macro", zero_division=0),
        "weighted_f1": f1_score(y, p, average="weighted", zero_division=0),
        "macro_precision": precision_score(y, p, average="macro", zero_division=0),
        "macro_recall": recall_score(y, p, average="macro", zero_division=0),
    }
    present = np.union1d(y, p)
    assert summary["n_classes_present"] == present.size
    assert f1_score(y, p, labels=present, average="macro", zero_division=0) == pytest.approx(expected["macro_f1"])
    for key, value in expected.items():
        assert summary[key] == pytest.approx(value), key
    picker = {"accuracy": "accuracy", "f1": "macro_f1", "precision": "macro_precision", "recall": "macro_recall"}
    for name, key in picker.items():
        assert metric_value(name, labels, preds, n_classes) == pytest.approx(expected[key]), name


@given(
    label_pred_arrays(),
    st.data(),
)
@settings(max_examples=100, deadline=None)
def test_dep_statistics(data: tuple[np.ndarray, np.ndarray, int], draw: st.DataObject) -> None:
    labels, preds, n_classes = data
    # Values on bin edges and at 0 and 1 are the interesting ones.
    edges = st.sampled_from([0.0, 0.05, 0.15, 0.5, 0.95, 1.0])
    values = st.one_of(edges, st.floats(0.0, 1.0))
    dep = np.asarray(draw.draw(st.lists(values, min_size=labels.size, max_size=labels.size)), dtype=np.float64)
    dep[labels == UNLABELED] = np.nan  # unlabeled samples need no DEP
    summary = summary_metrics(labels, preds, _names(n_classes), dep=dep)
    own = dep[labels != UNLABELED]

    hist = summary["dep_histogram"]
    assert hist["edges"] == list(DEP_BIN_EDGES) and len(hist["counts"]) == len(hist["edges"]) - 1
    assert sum(hist["counts"]) == summary["n"]
    np.testing.assert_array_equal(hist["counts"], np.histogram(own, bins=np.asarray(DEP_BIN_EDGES))[0])
    json.dumps(summary)  # plain Python types only
    if own.size:
        assert summary["dep_mean"] == pytest.approx(own.mean())
        assert summary["dep_median"] == pytest.approx(np.median(own))
        for q in (0.1, 0.25, 0.75, 0.9):
            assert summary[f"dep_q{round(q * 100)}"] == pytest.approx(np.quantile(own, q))
    else:
        assert summary["dep_mean"] is None and summary["dep_q90"] is None


@pytest.mark.parametrize("labels", [[], [UNLABELED, UNLABELED]])
def test_empty_subset_gives_no_metrics_and_no_error(labels: list[int]) -> None:
    preds = [0] * len(labels)
    dep = [np.nan] * len(labels)
    summary = summary_metrics(labels, preds, ["a", "b", "c"], dep=dep)
    assert summary["n"] == 0
    for key in ("accuracy", "macro_f1", "weighted_f1", "macro_precision", "macro_recall", "dep_mean", "dep_median"):
        assert summary[key] is None, key
    assert sum(summary["dep_histogram"]["counts"]) == 0
    report = class_report(labels, preds, ["a", "b", "c"])
    assert len(report) == 3 and (report[["precision", "recall", "f1"]] == 0.0).all().all()
    assert confusion(labels, preds, 3).sum() == 0
    assert metric_value("accuracy", labels, preds, 3) is None
    assert top_misclassified_pairs(labels, preds, ["a", "b", "c"]).empty


def test_metrics_refuse_bad_arguments_naming_the_parameter() -> None:
    names = ["a", "b"]
    with pytest.raises(ValidationError, match="'labels'.*Got 2"):
        summary_metrics([0, 2], [0, 1], names)
    with pytest.raises(ValidationError, match="'preds'.*Got -1"):
        summary_metrics([0, 1], [0, -1], names)
    with pytest.raises(ValidationError, match="'preds'.*one value per entry"):
        class_report([0, 1], [0], names)
    with pytest.raises(ValidationError, match="'labels'.*whole-number"):
        confusion([0.5, 1.0], [0, 1], 2)
    with pytest.raises(ValidationError, match="'dep'.*\\[0, 1\\]"):
        summary_metrics([0, 1], [0, 1], names, dep=[0.2, 1.5])
    with pytest.raises(ValidationError, match="'name'.*'f1'"):
        metric_value("auc", [0], [0], 2)
    with pytest.raises(ValidationError, match="'n_classes'"):
        confusion([0], [0], 0)


# --- overlap --------------------------------------------------------------------------------------


def _planted_probs(
    rng: np.random.Generator, n: int, n_classes: int, pair: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Confident probabilities, except that the classes of ``pair`` share their mass at random."""
    labels = rng.integers(0, n_classes, n)
    probs = rng.dirichlet(np.ones(n_classes), n) * 0.1
    probs[np.arange(n), labels] += 0.9
    mixed = np.isin(labels, pair)
    share = rng.uniform(0.2, 0.8, mixed.sum())
    probs[mixed] *= 0.1
    probs[mixed, pair[0]] += 0.9 * share
    probs[mixed, pair[1]] += 0.9 * (1 - share)
    return probs, labels


def _brute_force_overlap(probs: np.ndarray, labels: np.ndarray, a: int, b: int) -> float:
    on = [probs[labels == a, b].mean() if (labels == a).any() else 0.0,
          probs[labels == b, a].mean() if (labels == b).any() else 0.0]  # fmt: skip
    return (on[0] + on[1]) / 2


def test_class_overlap_finds_the_planted_pair_and_is_symmetric() -> None:
    rng = np.random.default_rng(0)
    n_classes, pair = 7, (2, 5)
    probs, labels = _planted_probs(rng, 3000, n_classes, pair)
    labels[:50] = UNLABELED
    names = _names(n_classes)

    frame = class_overlap(probs, labels, names)
    assert list(frame.columns) == ["class_a", "class_b", "overlap", "a_on_b", "b_on_a", "n_confused"]
    assert len(frame) == n_classes * (n_classes - 1) // 2
    assert (frame.loc[0, "class_a"], frame.loc[0, "class_b"]) == ("c2", "c5")
    assert frame.loc[0, "overlap"] > 3 * frame.loc[1, "overlap"]
    assert frame["overlap"].is_monotonic_decreasing
    assert frame["overlap"].between(0, 1).all()

    keep = labels != UNLABELED
    preds = probs.argmax(axis=1)
    index = {name: i for i, name in enumerate(names)}
    for row in frame.itertuples():
        a, b = index[row.class_a], index[row.class_b]
        assert a < b
        assert row.overlap == pytest.approx(_brute_force_overlap(probs[keep], labels[keep], a, b))
        confused = ((labels == a) & (preds == b)) | ((labels == b) & (preds == a))
        assert row.n_confused == confused.sum()

    # Symmetric: reversing the class order scores every unordered pair the same.
    reverse = class_overlap(probs[:, ::-1], np.where(keep, n_classes - 1 - labels, UNLABELED), names[::-1])
    scores = {frozenset((r.class_a, r.class_b)): r.overlap for r in frame.itertuples()}
    for r in reverse.itertuples():
        assert r.overlap == pytest.approx(scores[frozenset((r.class_a, r.class_b))])

    top = class_overlap(probs.astype(np.float32), labels, names, top=3)
    assert len(top) == 3 and (top.loc[0, "class_a"], top.loc[0, "class_b"]) == ("c2", "c5")
    assert top.loc[0, "overlap"] == pytest.approx(frame.loc[0, "overlap"], abs=1e-6)


def test_class_overlap_accumulates_across_batches() -> None:
    rng = np.random.default_rng(1)
    n, n_classes = 70_000, 4  # more rows than one batch (65,536)
    probs = rng.dirichlet(np.ones(n_classes), n)
    labels = rng.integers(-1, n_classes, n)
    frame = class_overlap(probs, labels, _names(n_classes))
    keep = labels != UNLABELED
    row = frame[(frame["class_a"] == "c0") & (frame["class_b"] == "c3")].iloc[0]
    assert row["overlap"] == pytest.approx(_brute_force_overlap(probs[keep], labels[keep], 0, 3))


def test_class_overlap_refuses_bad_probs() -> None:
    names = ["a", "b"]
    with pytest.raises(ValidationError, match="'probs'.*one column per entry of 'class_names'"):
        class_overlap([[1.0, 0.0, 0.0]], [0], names)
    with pytest.raises(ValidationError, match="'probs'.*probabilities"):
        class_overlap([[0.7, 0.7]], [0], names)
    with pytest.raises(ValidationError, match="'probs'.*finite"):
        class_overlap([[np.nan, 1.0]], [0], names)
    with pytest.raises(ValidationError, match="'top'"):
        class_overlap([[0.5, 0.5]], [0], names, top=0)


@given(label_pred_arrays(), st.one_of(st.none(), st.integers(1, 5)))
@settings(max_examples=150, deadline=None)
def test_top_misclassified_pairs_match_a_brute_force_count(
    data: tuple[np.ndarray, np.ndarray, int], top: int | None
) -> None:
    labels, preds, n_classes = data
    names = _names(n_classes)
    frame = top_misclassified_pairs(labels, preds, names, top=top)
    assert list(frame.columns) == ["label", "pred", "count", "share_of_label"]

    counts = Counter((names[y], names[p]) for y, p in zip(labels, preds) if y != UNLABELED and y != p)
    support = Counter(names[y] for y in labels if y != UNLABELED)
    assert len(frame) == (len(counts) if top is None else min(top, len(counts)))
    assert frame["count"].is_monotonic_decreasing
    for row in frame.itertuples():
        assert row.label != row.pred
        assert row.count == counts[(row.label, row.pred)]
        assert row.share_of_label == pytest.approx(row.count / support[row.label])
    if len(frame):
        assert frame["count"].iloc[0] == max(counts.values())


def test_on_boundary_flags_near_ties_not_confident_samples() -> None:
    rng = np.random.default_rng(2)
    n_confident, n_tied, n_classes = 400, 40, 5
    confident = rng.dirichlet(np.ones(n_classes), n_confident) * 0.05
    confident[np.arange(n_confident), rng.integers(0, n_classes, n_confident)] += 0.95
    gap = rng.uniform(0.0, 0.04, n_tied)
    tied = np.zeros((n_tied, n_classes))
    tied[:, 1] = 0.48 + gap / 2
    tied[:, 3] = 0.48 - gap / 2
    tied[:, [0, 2, 4]] = 0.04 / 3
    probs = np.vstack([confident, tied])
    is_tied = np.arange(len(probs)) >= n_confident

    result = on_boundary(probs)
    assert result.name == "on_boundary"
    assert result.is_issue.dtype == bool and result.score.shape == (len(probs),)
    assert result.is_issue.any() and not result.is_issue[~is_tied].any()
    # The flagged samples are the ones nearest the boundary, and score higher than the rest.
    assert result.score[result.is_issue].min() >= result.score[~result.is_issue].max()
    assert result.summary["n_flagged"] == result.is_issue.sum()
    assert result.summary["threshold"] <= result.summary["max_margin"]
    np.testing.assert_allclose(result.columns["margin"][is_tied], gap, atol=1e-12)
    assert set(result.columns["runner_up"][is_tied].tolist()) == {3}
    json.dumps(result.summary)

    fixed = on_boundary(probs, margin=0.05)
    np.testing.assert_array_equal(fixed.is_issue, is_tied)
    assert fixed.summary["rule"] == "fixed margin"


def test_on_boundary_caps_the_threshold_and_flags_exact_ties() -> None:
    rng = np.random.default_rng(3)
    probs = rng.dirichlet(np.ones(3), 200) * 0.1
    probs[:, 0] += 0.9  # every sample confident: nothing to flag, whatever the quantile
    assert not on_boundary(probs).is_issue.any()

    probs[:3] = [1 / 3, 1 / 3, 1 / 3]  # exact ties: flagged, runner-up differs from the argmax
    result = on_boundary(probs)
    assert result.is_issue[:3].all() and result.is_issue.sum() == 3
    assert (result.columns["runner_up"][:3] != probs[:3].argmax(axis=1)).all()

    empty = on_boundary(np.zeros((0, 3)))
    assert empty.summary["n_flagged"] == 0 and empty.summary["threshold"] is None
    with pytest.raises(ValidationError, match="'quantile'"):
        on_boundary(probs, quantile=1.5)


# --- many classes: nothing (classes x classes) is built, the answers stay the same ------------------


def _brute_overlap(probs: np.ndarray, labels: np.ndarray) -> dict[tuple[int, int], float]:
    n_classes = probs.shape[1]
    mean = np.zeros((n_classes, n_classes))
    for c in range(n_classes):
        if (labels == c).any():
            mean[c] = probs[labels == c].mean(axis=0)
    return {(a, b): (mean[a, b] + mean[b, a]) / 2 for a in range(n_classes) for b in range(a + 1, n_classes)}


@pytest.mark.parametrize("n_classes", [5, 300, 700])  # 300 and 700: more than one block of classes
def test_class_overlap_in_blocks_equals_the_dense_definition(n_classes: int) -> None:
    from dq.insights.overlap import CLASS_BLOCK

    rng = np.random.default_rng(n_classes)
    n = 3 * n_classes
    probs = rng.dirichlet(np.full(n_classes, 0.2), size=n)
    labels = rng.integers(-1, n_classes, n)
    names = [f"c{i}" for i in range(n_classes)]
    brute = _brute_overlap(probs, labels)
    best = sorted(brute.values(), reverse=True)[:25]
    got = class_overlap(probs, labels, names, top=25)
    np.testing.assert_allclose(got["overlap"].to_numpy(), best, rtol=1e-9)
    for row in got.itertuples():
        a, b = names.index(row.class_a), names.index(row.class_b)
        assert a < b and row.overlap == pytest.approx(brute[(a, b)], rel=1e-9)
    assert n_classes <= CLASS_BLOCK or len(got) == 25


def test_sparse_confusion_and_the_error_range_without_a_joint_matrix() -> None:
    from dq.insights.dep import estimate_error_range
    from dq.insights.metrics import sparse_confusion

    rng = np.random.default_rng(0)
    n_classes, n = 400, 3000
    labels = rng.integers(0, n_classes, n)
    probs = rng.dirichlet(np.full(n_classes, 0.1), size=n)
    preds = probs.argmax(axis=1)
    dense = confusion(labels, preds, n_classes)
    np.testing.assert_array_equal(sparse_confusion(labels, preds, n_classes).toarray(), dense)
    # confident learning's joint, built densely here as the definition says
    thresholds = np.array([probs[labels == c, c].mean() if (labels == c).any() else 1.0 for c in range(n_classes)])
    above = probs >= thresholds
    joint = np.zeros((n_classes, n_classes))
    for i in np.flatnonzero(above.any(axis=1)):
        joint[labels[i], np.where(above[i], probs[i], -1).argmax()] += 1
    counted = joint.sum() - np.trace(joint)
    rows = joint.sum(axis=1, keepdims=True)
    sizes = np.bincount(labels, minlength=n_classes)[:, None]
    calibrated = np.divide(joint, rows, out=np.zeros_like(joint), where=rows > 0) * sizes
    spread = calibrated.sum() - np.trace(calibrated)
    low, high = sorted((counted, spread))
    assert estimate_error_range(probs, labels) == (round(np.sqrt(low * high)), round(low), round(high))


def test_class_overlap_of_a_split_without_labels_is_all_zero() -> None:
    # an inference split: every sample unlabeled
    probs = np.random.default_rng(0).dirichlet(np.ones(4), size=10)
    got = class_overlap(probs, np.full(10, -1), ["a", "b", "c", "d"], top=3)
    assert len(got) == 3 and (got["overlap"] == 0).all() and (got["n_confused"] == 0).all()


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(st.one_of(st.sampled_from(["a", "b", "c", "zz", ""]), st.none(), st.integers(0, 3)), max_size=40),
    storage=st.sampled_from(["object", "str"]),
)
def test_label_indices_equal_a_lookup_of_each_name(values: list[object], storage: str) -> None:
    """Arrow strings, object columns and mixed columns all give the names' positions, -1 elsewhere."""
    import pandas as pd

    from dq.insights.compute import label_indices

    names = ["a", "b", "c"]
    if storage == "str":  # pandas' own string dtype (Arrow-backed): only text and missing values
        values = [v if isinstance(v, str) or v is None else str(v) for v in values]
    series = pd.Series(values, dtype=storage)
    expected = [names.index(v) if isinstance(v, str) and v in names else -1 for v in series]
    got = label_indices(series, names)
    assert got.dtype == np.int64
    assert got.tolist() == expected
