"""Second views of a run: stored by RunWriter.add_view, read back by Run.view_probs, weighed by DEP,
and dq auto's lexical model (cross-fitted TF-IDF + logistic regression) that fills the first one."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dq.auto.lexical import LEXICAL_VIEW, cross_fit_lexical
from dq.auto.pipeline import AutoSettings, auto
from dq.errors import ValidationError
from dq.insights.dep import compute_dep
from dq.insights.posterior import combine_views
from dq.store.reader import Run
from dq.store.writer import RunWriter


def _writer(tmp_path, n=4):
    w = RunWriter(tmp_path / "r", project="p", run="r", labels=["a", "b"])
    w.add_samples(texts=[f"t{i}" for i in range(n)], labels=["a", "b"] * (n // 2), ids=list(range(n)), split="training")
    for epoch in (0, 1):
        w.add_outputs(ids=list(range(n)), embs=np.eye(n, 2), probs=[[0.6, 0.4]] * n, split="training", epoch=epoch)
    return w


def test_a_view_round_trips_row_aligned_whatever_the_id_order(tmp_path):
    w = _writer(tmp_path)
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.7, 0.3], [0.4, 0.6]], dtype=np.float32)
    order = [2, 0, 3, 1]
    w.add_view("lexical", ids=order, probs=probs[order], split="training", model="tf-idf")
    run = Run(w.finish())
    assert run.views == {"lexical": ["training"]}
    np.testing.assert_allclose(run.view_probs("lexical", "training"), probs)
    meta = json.loads((run.path / "run.json").read_text())
    assert meta["views"]["lexical"] == {"model": "tf-idf", "splits": ["training"]}
    assert run.verify()  # the view's file is part of the content hash


def test_a_run_without_views_says_so(tmp_path):
    run = Run(_writer(tmp_path).finish())
    assert run.views == {}
    with pytest.raises(ValidationError, match="'view' parameter must name a view stored for split 'training'"):
        run.view_probs("lexical", "training")


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"view": "Lexical!"}, "'view' parameter must be a lowercase identifier"),
        ({"ids": [0, 1, 2]}, "must hold every sample of split 'training' once \\(4\\). Got 3 ids"),
        ({"ids": [0, 1, 2, 2]}, "Got 1 repeated ids"),
        ({"ids": [0, 1, 2, 9]}, "ids never logged"),
        ({"probs": [[0.5, 0.6]] * 4}, "probs"),
        ({"split": "test"}, "before any of its samples"),
    ],
)
def test_bad_views_are_refused_in_one_line(tmp_path, kwargs, pattern):
    w = _writer(tmp_path)
    args = {"view": "lexical", "ids": [0, 1, 2, 3], "probs": [[0.5, 0.5]] * 4, "split": "training"} | kwargs
    view = args.pop("view")
    with pytest.raises(Exception, match=pattern):
        w.add_view(view, **args)
    w.abort()


def test_a_view_is_logged_once_per_split(tmp_path):
    w = _writer(tmp_path)
    w.add_view("lexical", ids=[0, 1, 2, 3], probs=[[0.5, 0.5]] * 4, split="training")
    with pytest.raises(ValidationError, match="already logged"):
        w.add_view("lexical", ids=[0, 1, 2, 3], probs=[[0.5, 0.5]] * 4, split="training")
    w.abort()


def test_a_view_that_predicts_the_labels_gets_weight_and_a_noise_view_gets_none():
    rng = np.random.default_rng(0)
    n, c = 400, 3
    labels = rng.integers(0, c, n)
    base = np.full((2, n, c), 1 / c)  # the model knows nothing
    informative = np.full((n, c), 0.05)
    informative[np.arange(n), labels] = 0.9
    noise = rng.dirichlet(np.ones(c), size=n)
    post = combine_views(base, None, labels, views={"good": informative, "noise": noise})
    assert post.view_weights["good"] >= 0.8
    assert post.view_weights["noise"] == 0.0
    # and the weights chosen are the ones reported in the DEP summary
    result = compute_dep(base, labels, views={"good": informative, "noise": noise})
    assert result.summary["view_weights"] == post.view_weights


def test_a_lexical_view_finds_the_flip_an_uninformative_model_cannot():
    rng = np.random.default_rng(1)
    n = 300
    labels = rng.integers(0, 2, n)
    flipped = 7
    clean = labels.copy()
    labels[flipped] = 1 - labels[flipped]
    base = np.full((3, n, 2), 0.5) + rng.normal(0, 0.01, (3, n, 2))
    base /= base.sum(axis=2, keepdims=True)
    lexical = np.where(np.eye(2)[clean] > 0, 0.95, 0.05)  # the words say the true class
    with_view = compute_dep(base, labels, views={"lexical": lexical})
    without = compute_dep(base, labels)
    assert int(np.argmax(with_view.score)) == flipped
    assert with_view.columns["suggested_label"][flipped] == clean[flipped]
    assert int(np.argmax(without.score)) != flipped or without.score[flipped] < 0.6


def test_views_of_the_wrong_shape_are_refused():
    with pytest.raises(ValidationError, match="'views' parameter must hold \\(samples, classes\\)"):
        compute_dep(np.full((1, 3, 2), 0.5), np.array([0, 1, 0]), views={"lexical": np.full((2, 2), 0.5)})


def test_lexical_probabilities_are_out_of_fold():
    # Random letter strings with arbitrary labels: a model fitted on a text memorises its n-grams
    # and predicts its label with confidence; out of fold nothing predicts the label, so the
    # probability of each sample's own label stays near chance.
    rng = np.random.default_rng(0)
    n = 200
    y = rng.integers(0, 2, n)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    texts = [" ".join("".join(rng.choice(letters, 5)) for _ in range(6)) for _ in range(n)]
    out = cross_fit_lexical(texts, y, 2, other_texts={"test": texts[:5]}, folds=5, seed=0)
    own = out.train_probs[np.arange(n), y]
    assert abs(float(own.mean()) - 0.5) < 0.05
    assert out.train_probs.shape == (n, 2) and out.other_probs["test"].shape == (5, 2)
    np.testing.assert_allclose(out.train_probs.sum(axis=1), 1.0, atol=1e-5)
    # the same model fitted on every sample has memorised them: the contrast the folds avoid
    from sklearn.linear_model import LogisticRegression

    from dq.auto.lexical import _features

    x, _ = _features(texts, [])
    fitted = LogisticRegression(C=4.0, max_iter=200).fit(x, y).predict_proba(x)[np.arange(n), y]
    assert float(fitted.mean()) > 0.7


def test_lexical_model_learns_words():
    texts = [f"refund my money please {i}" for i in range(30)] + [f"card arrived today {i}" for i in range(30)]
    y = np.array([0] * 30 + [1] * 30)
    out = cross_fit_lexical(texts, y, 2, other_texts={"test": ["please refund", "my card arrived"]}, folds=3)
    assert (out.train_probs.argmax(axis=1) == y).mean() == 1.0
    assert out.other_probs["test"].argmax(axis=1).tolist() == [0, 1]


@pytest.mark.parametrize("lexical", [True, False])
def test_dq_auto_stores_the_lexical_view_unless_told_not_to(tmp_path, lexical):
    rows = [f"great phone {i},pos,{'test' if i % 5 == 0 else 'train'}" for i in range(30)]
    rows += [f"awful phone {i},neg,{'test' if i % 5 == 0 else 'train'}" for i in range(30)]
    data = tmp_path / "reviews.csv"
    data.write_text("\n".join(["text,label,split", *rows]) + "\n")
    settings = AutoSettings(text="text", label="label", split="split", epochs=2, folds=3, lexical=lexical)
    run = Run(auto(data, settings, home=tmp_path, progress=False, log=lambda _m: None).path)
    if lexical:
        assert run.views == {LEXICAL_VIEW: ["training", "test"]}
        assert run.view_probs(LEXICAL_VIEW, "test").shape == (12, 2)
    else:
        assert run.views == {}


def test_the_lexical_view_is_kept_by_content_and_a_damaged_file_is_refit(tmp_path, monkeypatch):
    import dq.auto.lexical as lexical

    texts = [f"refund my money {i}" for i in range(12)] + [f"card arrived {i}" for i in range(12)]
    y = np.array([0] * 12 + [1] * 12)
    args = {"other_texts": {"test": ["refund", "card"]}, "folds": 3, "seed": 0, "cache_dir": tmp_path}
    first = lexical.cached_cross_fit_lexical(texts, y, 2, **args)
    (stored,) = (tmp_path / lexical.LEXICAL_CACHE_DIR).glob("*.npz")
    fits = []
    monkeypatch.setattr(lexical, "cross_fit_lexical", lambda *a, **k: fits.append(1) or first)
    again = lexical.cached_cross_fit_lexical(texts, y, 2, **args)  # same content: read, not fitted
    assert fits == [] and np.array_equal(again.train_probs, first.train_probs)
    lexical.cached_cross_fit_lexical(texts, 1 - y, 2, **args)  # other labels: another key, a fit
    assert fits == [1]
    stored.write_bytes(b"not an npz")  # damaged: refused and fitted again
    lexical.cached_cross_fit_lexical(texts, y, 2, **args)
    assert fits == [1, 1]
