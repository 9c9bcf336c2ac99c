"""dq.auto.train: the cross-fitted softmax heads of dq auto, on small synthetic embeddings.

The point of cross-fitting is that every training sample's probabilities come from a head that
never saw it; these tests check that directly (a perturbed sample moves only the heads that trained
on it) and by its effect (random labels cannot be memorised out of fold).
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dq.auto.train import EpochOutputs, HeadSettings, cross_fit, fold_assignment
from dq.errors import ValidationError


def clusters(n: int, n_classes: int = 3, dim: int = 8, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` embeddings around one well-separated centre per class, and their classes."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % n_classes
    centres = np.eye(dim)[:n_classes] * 3.0
    return (centres[y] + rng.normal(scale=0.5, size=(n, dim))).astype(np.float32), y


def fit(x: np.ndarray, y: np.ndarray, n_classes: int, **kw: object) -> list[EpochOutputs]:
    other = kw.pop("other_embs", None)
    return list(cross_fit(x, y, n_classes, other_embs=other, settings=HeadSettings(**kw), progress=False))


# ---------------------------------------------------------------- fold_assignment
@settings(max_examples=80, deadline=None)
@given(st.lists(st.integers(0, 4), min_size=1, max_size=60), st.integers(2, 6), st.integers(0, 2**31))
def test_folds_are_balanced_overall_and_within_every_class(labels: list[int], folds: int, seed: int) -> None:
    y = np.asarray(labels)
    assignment = fold_assignment(y, folds=folds, seed=seed)
    assert assignment.shape == y.shape and assignment.dtype == np.int64
    assert set(assignment.tolist()) <= set(range(folds))
    sizes = np.bincount(assignment, minlength=folds)
    assert sizes.max() - sizes.min() <= 1
    for cls in np.unique(y):
        per_fold = np.bincount(assignment[y == cls], minlength=folds)
        assert per_fold.max() - per_fold.min() <= 1
    np.testing.assert_array_equal(assignment, fold_assignment(y, folds=folds, seed=seed))


def test_fold_assignment_follows_the_seed() -> None:
    y = np.arange(40) % 2
    assert not np.array_equal(fold_assignment(y, folds=4, seed=0), fold_assignment(y, folds=4, seed=1))


def test_classes_smaller_than_the_folds_are_spread_over_different_folds() -> None:
    y = np.array([0] * 10 + [1, 1, 2, 2])  # classes 1 and 2 have fewer members than folds
    assignment = fold_assignment(y, folds=5, seed=0)
    assert len(set(assignment[y == 1])) == 2 and len(set(assignment[y == 2])) == 2
    assert sorted(Counter(assignment.tolist()).values()) == [2, 3, 3, 3, 3]


# ---------------------------------------------------------------- cross_fit
def test_one_output_per_epoch_out_of_fold_for_training_and_averaged_for_other_splits() -> None:
    x, y = clusters(90)
    test_x, test_y = clusters(30, seed=1)
    outs = fit(x, y, 3, epochs=3, folds=5, batch_size=8, other_embs={"test": test_x})
    assert [o.epoch for o in outs] == [0, 1, 2]
    for out in outs:
        assert out.train_probs.shape == (90, 3) and out.train_probs.dtype == np.float32
        assert set(out.other_probs) == {"test"}
        assert out.other_probs["test"].shape == (30, 3) and out.other_probs["test"].dtype == np.float32
        np.testing.assert_allclose(out.train_probs.sum(axis=1), 1, atol=1e-5)
        np.testing.assert_allclose(out.other_probs["test"].sum(axis=1), 1, atol=1e-5)
    # The training dynamics DEP reads: the heads grow surer of the right classes epoch by epoch.
    own = [o.train_probs[np.arange(len(y)), y].mean() for o in outs]
    assert own[0] < own[1] < own[2]
    last = outs[-1]
    assert (last.train_probs.argmax(axis=1) == y).mean() >= 0.95
    assert (last.other_probs["test"].argmax(axis=1) == test_y).mean() >= 0.95
    assert fit(x, y, 3, epochs=1, folds=2)[0].other_probs == {}


def test_a_planted_label_error_gets_a_low_probability_for_its_label() -> None:
    x, y = clusters(90)
    noisy = y.copy()
    noisy[:6] = (y[:6] + 1) % 3  # six flipped labels: the heads that score them never saw them
    last = fit(x, noisy, 3, epochs=5, folds=5, batch_size=8)[-1].train_probs
    rows = np.arange(len(y))
    assert last[rows[:6], noisy[:6]].max() < 0.2
    assert (last[:6].argmax(axis=1) == y[:6]).all()
    assert np.median(last[rows[6:], noisy[6:]]) > 0.8


def test_a_sample_only_moves_the_heads_that_trained_on_it() -> None:
    x, y = clusters(60)
    head = {"epochs": 2, "folds": 3, "seed": 7}
    before = fit(x, y, 3, **head)[-1].train_probs
    moved = x.copy()
    moved[0] = -10.0  # sample 0, now far from everything
    after = fit(moved, y, 3, **head)[-1].train_probs
    fold = fold_assignment(y, folds=3, seed=7)
    same_fold = (fold == fold[0]) & (np.arange(len(y)) != 0)
    # The head that scores sample 0's fold never trained on sample 0: its other samples keep their
    # probabilities exactly. Every other head trained on it, and its samples' probabilities change.
    np.testing.assert_array_equal(after[same_fold], before[same_fold])
    other_folds = fold != fold[0]
    assert np.abs(after[other_folds] - before[other_folds]).max() > 1e-3


def test_random_labels_are_memorised_in_fold_but_not_out_of_fold() -> None:
    rng = np.random.default_rng(3)
    n, dim = 60, 64  # more dimensions than samples: any labeling is linearly separable
    x = rng.normal(size=(n, dim)).astype(np.float32)
    y = rng.integers(0, 2, n)
    out = fit(x, y, 2, epochs=40, folds=5, batch_size=8, weight_decay=0.0, other_embs={"train": x})[-1]
    rows = np.arange(n)
    # Scored by the fold-averaged heads, 4 of 5 of which saw each sample: memorised.
    assert (out.other_probs["train"].argmax(axis=1) == y).mean() >= 0.95
    # Out of fold: no better than a coin.
    assert (out.train_probs.argmax(axis=1) == y).mean() <= 0.65
    assert out.train_probs[rows, y].mean() < out.other_probs["train"][rows, y].mean() - 0.3


def test_a_duplicate_with_another_label_cannot_be_memorised() -> None:
    x, y = clusters(60)
    # Sample 60 repeats sample 0's text (embedding) under another label.
    x = np.vstack([x, x[:1]])
    y = np.append(y, (y[0] + 1) % 3)
    last = fit(x, y, 3, epochs=5, folds=5, batch_size=8)[-1].train_probs
    assert last[60].argmax() == y[0] and last[60, y[60]] < 0.2
    assert last[0].argmax() == y[0]


def test_the_same_seed_gives_the_same_outputs_and_another_seed_others() -> None:
    x, y = clusters(45)
    test_x, _ = clusters(9, seed=1)
    first, again, other = (fit(x, y, 3, epochs=2, folds=3, seed=s, other_embs={"test": test_x}) for s in (0, 0, 1))
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a.train_probs, b.train_probs)
        np.testing.assert_array_equal(a.other_probs["test"], b.other_probs["test"])
    assert not np.array_equal(first[-1].train_probs, other[-1].train_probs)


@pytest.mark.parametrize(
    ("n", "head", "pattern"),
    [
        (10, {"folds": 1}, r"'folds' setting must be between 2 and the number of training samples \(10\)\. Got 1"),
        (4, {"folds": 5}, r"'folds' setting must be between 2 and the number of training samples \(4\)\. Got 5"),
        (10, {"epochs": 0}, r"'epochs' setting must be at least 1\. Got 0 instead"),
    ],
)
def test_settings_are_refused_when_called_not_when_iterated(n: int, head: dict, pattern: str) -> None:
    x, y = clusters(n)
    with pytest.raises(ValidationError, match=pattern):
        cross_fit(x, y, 3, settings=HeadSettings(**head), progress=False)  # no next(): refused at once
