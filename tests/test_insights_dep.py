"""dq.insights.dep, the core score: each public function on small synthetic data with planted label errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dq.config import DEFAULT_STRICTNESS, UNLABELED
from dq.errors import ValidationError
from dq.insights.dep import (
    DEP_SELF_WEIGHT,
    SUGGESTION_MIN_PROB,
    compute_dep,
    dep_from_posterior,
    estimate_error_count,
    flag_mislabeled,
    margins,
    suggest_labels,
)
from dq.insights.posterior import NEIGHBOR_WEIGHTS, Posterior, combine_views

N_CLASSES = 4


def _softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def planted(
    n: int = 120, n_flips: int = 10, n_epochs: int = 3, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Epoch probabilities of a model that learns the true classes, and labels with ``n_flips`` flipped.

    Returns ``(epoch_probs (E, n, C), given labels, true labels, flipped positions)``; the model grows
    more confident each epoch, and never sees the flips (they are label errors, not hard samples).
    """
    rng = np.random.default_rng(seed)
    truth = np.arange(n) % N_CLASSES
    flipped = np.sort(rng.choice(n, n_flips, replace=False))
    labels = truth.copy()
    labels[flipped] = (truth[flipped] + rng.integers(1, N_CLASSES, n_flips)) % N_CLASSES
    onehot = np.eye(N_CLASSES)[truth]
    epoch_probs = np.stack(
        [_softmax(2.0 * (e + 1) * onehot + rng.normal(scale=0.5, size=(n, N_CLASSES))) for e in range(n_epochs)]
    )
    return epoch_probs.astype(np.float32), labels, truth, flipped


@st.composite
def posteriors(draw: st.DrawFn, max_classes: int = 6, max_rows: int = 20) -> tuple[np.ndarray, np.ndarray]:
    """Random probability rows and labels in range."""
    n_classes = draw(st.integers(2, max_classes))
    n = draw(st.integers(1, max_rows))
    weights = draw(
        st.lists(
            st.lists(st.floats(0.0, 1.0), min_size=n_classes, max_size=n_classes).filter(lambda r: sum(r) > 1e-3),
            min_size=n,
            max_size=n,
        )
    )
    probs = np.asarray(weights, dtype=np.float64)
    probs /= probs.sum(axis=1, keepdims=True)
    labels = np.asarray(draw(st.lists(st.integers(0, n_classes - 1), min_size=n, max_size=n)), dtype=np.int64)
    return probs, labels


# ---------------------------------------------------------------- margins
@settings(max_examples=60, deadline=None)
@given(posteriors())
def test_margin_is_own_probability_minus_best_other(case: tuple[np.ndarray, np.ndarray]) -> None:
    probs, labels = case
    got = margins(probs, labels)
    for i, y in enumerate(labels):
        assert got[i] == pytest.approx(probs[i, y] - np.delete(probs[i], y).max())
    assert np.all((got >= -1) & (got <= 1))
    # Positive exactly when the given label is the unique most probable class.
    unique_top = np.array([(row > row[y]).sum() == 0 and (row == row[y]).sum() == 1 for row, y in zip(probs, labels)])
    np.testing.assert_array_equal(got > 0, unique_top)


def test_margins_leave_the_input_untouched() -> None:
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
    before = probs.copy()
    np.testing.assert_allclose(margins(probs, np.array([0, 0])), [0.5, -0.7])
    np.testing.assert_array_equal(probs, before)


# ---------------------------------------------------------------- dep_from_posterior
@settings(max_examples=60, deadline=None)
@given(posteriors())
def test_dep_is_the_documented_formula_in_unit_range(case: tuple[np.ndarray, np.ndarray]) -> None:
    probs, labels = case
    dep = dep_from_posterior(probs, labels)
    assert dep.dtype == np.float32 and dep.shape == labels.shape
    assert np.all((dep >= 0) & (dep <= 1))
    own = probs[np.arange(len(labels)), labels]
    expected = (1 - own) ** DEP_SELF_WEIGHT * ((1 - margins(probs, labels)) / 2) ** (1 - DEP_SELF_WEIGHT)
    np.testing.assert_allclose(dep, expected, atol=1e-6)


@settings(max_examples=60, deadline=None)
@given(st.floats(0.0, 1.0))
def test_with_two_classes_dep_is_one_minus_the_label_probability(p: float) -> None:
    # margin = 2p - 1, so both terms are 1 - p and their weighted geometric mean is 1 - p.
    dep = dep_from_posterior(np.array([[p, 1 - p]]), np.array([0]))
    assert dep[0] == pytest.approx(1 - p, abs=1e-6)


def test_dep_grows_as_mass_moves_from_the_label_to_one_rival() -> None:
    own = np.linspace(0.9, 0.05, 12)
    probs = np.stack([own, 0.95 - own, np.full_like(own, 0.05)], axis=1)
    dep = dep_from_posterior(probs, np.zeros(len(own), dtype=np.int64))
    assert np.all(np.diff(dep) > 0)


def test_one_strong_rival_scores_higher_than_the_same_mass_spread_out() -> None:
    # Same probability of the given label; the margin term adds the evidence of a single alternative.
    probs = np.array([[0.2, 0.8, 0.0, 0.0, 0.0], [0.2, 0.2, 0.2, 0.2, 0.2]])
    concentrated, spread = dep_from_posterior(probs, np.array([0, 0]))
    assert concentrated > spread


# ---------------------------------------------------------------- suggest_labels
def test_suggestion_is_the_most_probable_other_class_when_it_is_confident() -> None:
    probs = np.array(
        [
            [0.05, 0.85, 0.05, 0.05],  # clear flip: labeled 0, the model says 1
            [0.1, 0.3, 0.3, 0.3],  # the label is doubted, but no rival holds 0.4 of the others' mass
            [0.8, 0.1, 0.05, 0.05],  # labeled 0 and right: no suggestion however the rest is spread
            [0.3, 0.35, 0.35, 0.0],  # two rivals split the doubt: each holds half of it (a coin flip)
            [0.0, 0.3, 0.0, 0.7],  # labeled 3, the model agrees: nothing to suggest
            [0.45, 0.45, 0.1, 0.0],  # labeled 0, a rival as probable as the label, 0.82 of the rest
        ]
    )
    got = suggest_labels(probs, np.array([0, 0, 0, 0, 3, 0]))
    assert got.dtype == np.int64 and got.tolist() == [1, -1, -1, 1, -1, 1]


@settings(max_examples=60, deadline=None)
@given(posteriors())
def test_suggestion_is_never_the_given_label_and_is_confident(case: tuple[np.ndarray, np.ndarray]) -> None:
    probs, labels = case
    got = suggest_labels(probs, labels)
    has = got >= 0
    assert np.all(got[has] != labels[has])
    rows = np.flatnonzero(has)
    rival, own = probs[rows, got[has]], probs[rows, labels[has]]
    assert np.all(rival >= own)  # only where the posterior prefers another class
    assert np.all(rival >= SUGGESTION_MIN_PROB * (1 - own) - 1e-9)  # ... and that class holds enough of the rest
    assert np.all(got[~has] == -1)


# ---------------------------------------------------------------- estimate_error_count
def test_error_count_finds_the_planted_flips() -> None:
    epoch_probs, labels, truth, flipped = planted(n_flips=10)
    last = epoch_probs[-1]
    assert estimate_error_count(last, labels) == len(flipped)
    assert estimate_error_count(last, truth) == 0


def test_error_count_with_an_absent_class() -> None:
    probs = np.array([[0.9, 0.05, 0.05], [0.05, 0.9, 0.05], [0.05, 0.9, 0.05], [0.05, 0.05, 0.9]])
    # Thresholds: class 0 the mean of 0.9, 0.05, 0.05; class 1 0.9; class 2, labeled by nobody, 1.
    # Sample 2 reaches class 1's threshold: counted. Sample 3 prefers class 2 but cannot reach it.
    assert estimate_error_count(probs, np.array([0, 1, 0, 0])) == 1


# ---------------------------------------------------------------- flag_mislabeled
def test_flags_the_highest_dep_samples_that_prefer_another_class() -> None:
    dep = np.array([0.95, 0.9, 0.8, 0.7, 0.1])
    prefers_other = np.array([True, False, True, True, False])
    at_0 = flag_mislabeled(dep, prefers_other, 2, strictness=0.0)
    assert at_0.tolist() == [True, False, True, False, False]  # sample 1 has high DEP but agrees with its label
    at_1 = flag_mislabeled(dep, prefers_other, 2, strictness=1.0)
    assert at_1.tolist() == [True, False, False, False, False]
    assert not flag_mislabeled(dep, prefers_other, 0, strictness=0.0).any()
    # Never more flags than samples preferring another class, however many errors are estimated.
    assert flag_mislabeled(dep, prefers_other, 10, strictness=0.0).tolist() == prefers_other.tolist()


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.floats(0, 1), st.booleans()), min_size=1, max_size=40),
    st.integers(0, 50),
    st.floats(0, 1),
    st.floats(0, 1),
)
def test_a_stricter_flag_is_a_subset(rows: list[tuple[float, bool]], n_estimated: int, s1: float, s2: float) -> None:
    dep = np.array([d for d, _ in rows])
    prefers_other = np.array([p for _, p in rows])
    loose, strict = sorted((s1, s2))
    flagged_loose = flag_mislabeled(dep, prefers_other, n_estimated, strictness=loose)
    flagged_strict = flag_mislabeled(dep, prefers_other, n_estimated, strictness=strict)
    assert np.all(flagged_loose[flagged_strict])
    assert not np.any(flagged_loose & ~prefers_other)
    assert flagged_loose.sum() == min(int(round(n_estimated * (1 - loose / 2))), int(prefers_other.sum()))


# ---------------------------------------------------------------- combine_views
def test_combine_views_picks_the_pooling_that_fits_the_labels_best() -> None:
    labels = np.array([0, 1, 0, 1])

    def fit(p_label: float) -> np.ndarray:  # every sample gives its label p_label
        return np.where(np.eye(2, dtype=bool)[labels], p_label, 1 - p_label)

    # Learned only in the last epoch: the last epoch alone fits best.
    assert combine_views(np.stack([fit(0.1), fit(0.1), fit(0.9)]), None, labels).epochs == "last"
    # Forgotten in the last epoch: the mean over every epoch fits best.
    assert combine_views(np.stack([fit(0.9), fit(0.9), fit(0.1)]), None, labels).epochs == "all"
    # Learned from the middle on, a little worse again at the end: the later half fits best.
    late = combine_views(np.stack([fit(0.1), fit(0.1), fit(0.99), fit(0.8)]), None, labels)
    assert late.epochs == "late" and late.neighbor_weight == 0.0
    np.testing.assert_allclose(late.probs, fit(0.895), atol=1e-6)
    assert late.probs.dtype == np.float32
    # With two epochs the later half is the last epoch, so it is no candidate of its own.
    assert combine_views(np.stack([fit(0.1), fit(0.2)]), None, labels).epochs == "last"


def test_neighbors_are_mixed_in_when_they_explain_the_labels() -> None:
    _, labels, truth, _ = planted(n=80, n_flips=8)
    vague = np.full((1, len(labels), N_CLASSES), 1 / N_CLASSES, dtype=np.float32)
    agree = (np.eye(N_CLASSES)[labels] * 0.9 + 0.1 / N_CLASSES).astype(np.float32)
    post = combine_views(vague, agree, labels)
    assert isinstance(post, Posterior)
    assert post.neighbor_weight == max(NEIGHBOR_WEIGHTS)  # the log loss falls all the way
    assert post.probs.dtype == np.float32 and post.probs.shape == (len(labels), N_CLASSES)
    np.testing.assert_allclose(post.probs.sum(axis=1), 1, atol=1e-5)
    w = post.neighbor_weight
    np.testing.assert_allclose(post.probs, (1 - w) / N_CLASSES + w * agree, atol=1e-6)

    # A sure classifier and neighbors that know nothing: the neighbors get no weight.
    sure = planted(n=80, n_flips=8)[0][-1:]
    assert combine_views(sure, np.full_like(agree, 1 / N_CLASSES), truth).neighbor_weight == 0.0
    assert combine_views(sure, None, truth).neighbor_weight == 0.0


def test_unlabeled_samples_do_not_steer_the_choice() -> None:
    labels = np.array([0, 1] + [UNLABELED] * 6)
    # The two labeled samples are fitted by the last epoch; the six unlabeled ones flip-flop, so any
    # loss read at their (nonexistent) label column would prefer the mean of the epochs.
    good = np.array([[0.9, 0.1], [0.1, 0.9]] + [[0.99, 0.01]] * 6)
    bad = np.array([[0.1, 0.9], [0.9, 0.1]] + [[0.01, 0.99]] * 6)
    assert combine_views(np.stack([bad, good]), None, labels).epochs == "last"
    nobody = combine_views(np.stack([bad, good]), None, np.full(len(labels), UNLABELED))
    assert nobody.epochs == "all" and nobody.neighbor_weight == 0.0  # the first candidate: nothing to fit


# ---------------------------------------------------------------- compute_dep
def test_planted_flips_score_above_every_clean_sample_and_get_their_true_class() -> None:
    epoch_probs, labels, truth, flipped = planted()
    result = compute_dep(epoch_probs, labels, strictness=0.0)
    clean = np.setdiff1d(np.arange(len(labels)), flipped)
    assert result.score[flipped].min() > result.score[clean].max()
    assert result.columns["suggested_label"][flipped].tolist() == truth[flipped].tolist()
    assert np.all(result.columns["suggested_label"][clean] == -1)
    np.testing.assert_array_equal(result.columns["pred"], truth)
    # Every flag is a flip; the counting rule on the pooled posterior (the mean of the epochs, which
    # fits these labels best) misses at most one of the ten, and strictness 0 flags as many as it counts.
    flagged = np.flatnonzero(result.is_issue)
    assert set(flagged.tolist()) <= set(flipped.tolist())
    assert len(flagged) == result.summary["estimated_errors"] >= len(flipped) - 1
    assert result.summary["epochs_pooled"] == "all"


def test_result_shapes_types_and_summary() -> None:
    epoch_probs, labels, _, _ = planted(n=40, n_flips=4)
    result = compute_dep(epoch_probs.tolist(), labels.tolist())  # plain lists are read as arrays
    n = len(labels)
    assert result.name == "mislabeled"
    assert result.score.dtype == np.float32 and result.score.shape == (n,)
    assert result.is_issue.dtype == bool and result.is_issue.shape == (n,)
    assert result.columns["suggested_label"].dtype == np.int64
    assert result.columns["p_wrong"].dtype == np.float32
    assert set(result.columns) == {"suggested_label", "p_wrong", "pred"}
    assert all(col.shape == (n,) for col in result.columns.values())
    assert np.all((result.score >= 0) & (result.score <= 1))
    assert np.all((result.columns["p_wrong"] >= 0) & (result.columns["p_wrong"] <= 1))
    assert result.summary["strictness"] == DEFAULT_STRICTNESS
    assert result.summary["n_mislabeled"] == int(result.is_issue.sum())
    assert result.summary["epochs_pooled"] in ("all", "late", "last")
    json.dumps(result.summary)


def test_strictness_zero_flags_at_least_as_many_as_strictness_one() -> None:
    epoch_probs, labels, _, _ = planted(n=200, n_flips=30, seed=3)
    # A noisier model, so that the two ends of the knob differ.
    epoch_probs = _softmax(np.log(epoch_probs) * 0.3)
    flags = {s: compute_dep(epoch_probs, labels, strictness=s).is_issue for s in (0.0, 0.5, 1.0)}
    assert flags[0.0].sum() > flags[1.0].sum() > 0
    assert np.all(flags[0.0][flags[0.5]]) and np.all(flags[0.5][flags[1.0]])


def test_neighbors_reveal_flips_the_classifier_is_unsure_about() -> None:
    _, labels, truth, flipped = planted(n=80, n_flips=8)
    # A classifier that barely leans to the given labels (flips included): no evidence of any error.
    unsure = np.where(np.eye(N_CLASSES, dtype=bool)[labels], 0.28, 0.24)[None].repeat(2, axis=0)
    without = compute_dep(unsure, labels, strictness=0.0)
    assert not without.is_issue.any() and without.summary["neighbor_weight"] == 0.0
    # Neighbors that know the true topics: the flips now stand out, and get their true class.
    neighbors = np.eye(N_CLASSES)[truth] * 0.9 + 0.1 / N_CLASSES
    found = compute_dep(unsure, labels, neighbor_probs=neighbors, strictness=0.0)
    assert found.summary["neighbor_weight"] > 0
    clean = np.setdiff1d(np.arange(len(labels)), flipped)
    assert found.score[flipped].min() > found.score[clean].max()
    assert found.is_issue.any() and set(np.flatnonzero(found.is_issue)) <= set(flipped.tolist())
    assert found.columns["suggested_label"][flipped].tolist() == truth[flipped].tolist()


def test_unlabeled_samples_measure_uncertainty_and_are_never_flagged() -> None:
    epoch_probs, labels, _, flipped = planted(n=40, n_flips=4)
    unlabeled = np.array([1, 5, flipped[0]])
    labels = labels.copy()
    labels[unlabeled] = UNLABELED
    result = compute_dep(epoch_probs, labels, strictness=0.0)
    assert not result.is_issue[unlabeled].any()
    assert np.all(result.columns["suggested_label"][unlabeled] == -1)
    # Judged against the predicted class: a confident prediction leaves a low DEP.
    assert np.all(result.score[unlabeled] < 0.2)
    assert result.is_issue[flipped[1:]].all()


def test_an_uncertain_unlabeled_sample_is_not_flagged_even_above_a_flagged_flip() -> None:
    third = 1 / 3
    probs = np.array(
        [
            [
                [0.8, 0.1, 0.1],
                [0.37, 0.45, 0.18],
                [0.3, 0.42, 0.28],
                [0.28, 0.42, 0.3],
                [third, third, third],
                [0.5, 0.45, 0.05],
            ]
        ]
    )
    # Sample 1, labeled 0, reaches class 1's threshold (0.42): the one estimated error. The unlabeled
    # sample 4 scores higher (DEP against its predicted class), but only the flip is flagged; the
    # unlabeled sample 5 gets no suggestion, though its runner-up class would be a confident one.
    result = compute_dep(probs, np.array([0, 0, 1, 1, UNLABELED, UNLABELED]), strictness=0.0)
    assert result.score[4] > result.score[1]
    assert result.summary["estimated_errors"] == 1
    assert result.is_issue.tolist() == [False, True, False, False, False, False]
    assert result.columns["suggested_label"].tolist() == [-1, 1, -1, -1, -1, -1]


def test_no_labeled_sample_flags_nothing() -> None:
    epoch_probs, labels, _, _ = planted(n=12, n_flips=2)
    result = compute_dep(epoch_probs, np.full_like(labels, UNLABELED))
    assert result.summary["estimated_errors"] == 0 and not result.is_issue.any()


@pytest.mark.parametrize(
    ("epoch_probs", "labels", "strictness", "pattern"),
    [
        (np.full((4, 2), 0.5), [0, 1, 0, 1], 0.3, r"'epoch_probs' parameter must be a 3-D array.*Got shape \(4, 2\)"),
        (
            np.full((1, 4, 2), 0.5),
            [0, 1, 0],
            0.3,
            r"'labels' parameter must have one entry per sample \(4\)\. Got shape \(3,\)",
        ),
        (np.full((1, 4, 2), 0.5), [[0, 1, 0, 1]], 0.3, r"'labels'.*\(4\)\. Got shape \(1, 4\)"),
        (np.full((1, 4, 2), 0.5), [0, 1, 0, 1], 1.5, r"'strictness' parameter must be in \[0, 1\]\. Got 1\.5 instead"),
        (np.full((1, 4, 2), 0.5), [0, 1, 0, 1], -0.1, r"'strictness'.*Got -0\.1 instead"),
        (np.full((1, 4, 2), 0.5), [0, 1, 0, 1], float("nan"), r"'strictness'.*Got nan instead"),
    ],
)
def test_refusals_name_the_parameter(epoch_probs: np.ndarray, labels: list, strictness: float, pattern: str) -> None:
    with pytest.raises(ValidationError, match=pattern):
        compute_dep(epoch_probs, labels, strictness=strictness)


def test_in_sample_outputs_pool_every_epoch_so_memorised_wrong_labels_still_stand_out() -> None:
    # A model trained on these very samples: clean samples are learned at once, the two wrong labels
    # only in the last epoch (memorised). The last epoch alone fits every label.
    n, epochs = 40, 5
    labels = np.arange(n) % 2
    wrong = np.array([3, 17])
    p_label = np.full((epochs, n), 0.95)
    p_label[:, wrong] = [[0.1], [0.15], [0.2], [0.4], [0.97]]
    probs = np.stack([np.where(np.arange(2) == labels[:, None], p[:, None], 1 - p[:, None]) for p in p_label])
    cross_fitted = compute_dep(probs, labels)
    in_sample = compute_dep(probs, labels, in_sample=True)
    assert combine_views(probs, None, labels).epochs == "last"  # what the log loss picks on memorised outputs
    assert combine_views(probs, None, labels, in_sample=True).epochs == "all"
    top = np.argsort(-in_sample.score)[:2]
    assert set(top.tolist()) == set(wrong.tolist())
    assert in_sample.score[wrong].min() > 0.5 > cross_fitted.score[wrong].max()


@pytest.mark.parametrize("in_sample", [True, False])
@pytest.mark.parametrize("n_epochs", [1, 2, 5])
def test_epochs_pooled_as_read_give_the_same_dep_as_stacked_epochs(in_sample: bool, n_epochs: int) -> None:
    from dq.insights.posterior import pool_epochs

    rng = np.random.default_rng(n_epochs)
    n, n_classes = 300, 7
    labels = rng.integers(-1, n_classes, n)
    probs = rng.dirichlet(np.ones(n_classes), size=(n_epochs, n)).astype(np.float32)
    nbr = rng.dirichlet(np.ones(n_classes), size=n).astype(np.float32)
    before = probs.copy()
    stacked = compute_dep(probs, labels, neighbor_probs=nbr, in_sample=in_sample)
    pools = pool_epochs(lambda i: probs[i], n_epochs, in_sample=in_sample)
    streamed = compute_dep(pools, labels, neighbor_probs=nbr, in_sample=in_sample)
    np.testing.assert_array_equal(stacked.score, streamed.score)
    np.testing.assert_array_equal(stacked.is_issue, streamed.is_issue)
    assert stacked.summary == streamed.summary
    np.testing.assert_array_equal(probs, before)  # the caller's epochs are never changed in place
