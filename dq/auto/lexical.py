"""The lexical view: cross-fitted TF-IDF (word and character n-grams) + logistic regression.

A sentence encoder sees what a text means; a bag of n-grams sees which words it uses. Where a
task is decided by words (emotions, topics named by their jargon), the lexical model finds label
errors the frozen encoder misses; where it adds nothing, the insights give it no weight (the
views are weighted per run by how well each predicts the held-out labels: dq.insights.dep).

The model is cross-fitted on the same folds as the embedding head, so every training sample's
probabilities come from a model that never saw it, and other splits get the fold average.
"""

from __future__ import annotations

import hashlib
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dq._util.fileio import atomic_path
from dq.auto.embed_cache import update_with_texts
from dq.auto.train import fold_assignment
from dq.config import CONFIG
from dq.errors import ValidationError

#: Name of the lexical view in a run (``views/lexical/``).
LEXICAL_VIEW = "lexical"
#: What run.json says the view is.
LEXICAL_MODEL = "TF-IDF word 1-2-grams + char_wb 2-5-grams, logistic regression (C=4), cross-fitted"
#: Subdirectory of the dq cache holding fitted lexical outputs, keyed by content.
LEXICAL_CACHE_DIR = "lexical"
#: n-gram ranges and the minimum document frequency of a kept n-gram.
_WORD_NGRAMS = (1, 2)
_CHAR_NGRAMS = (2, 5)
_MIN_DF = 2
#: Inverse regularisation strength and iteration cap of the logistic regression.
_C = 4.0
_MAX_ITER = 200
#: Below this many training samples the folds are fitted in this process (a few seconds at most).
_PARALLEL_MIN_SAMPLES = 4000


@dataclass(frozen=True)
class LexicalOutputs:
    """Out-of-fold training probabilities and fold-averaged probabilities of the other splits."""

    train_probs: np.ndarray  # (n_train, n_classes) float32
    other_probs: dict[str, np.ndarray]  # split -> (n, n_classes) float32


def cross_fit_lexical(
    train_texts: list[str],
    train_y: np.ndarray,
    n_classes: int,
    *,
    other_texts: dict[str, list[str]] | None = None,
    folds: int = CONFIG.auto_folds,
    seed: int = CONFIG.auto_seed,
) -> LexicalOutputs:
    """Cross-fit the lexical model on ``train_texts`` (folds as the embedding head's) and score every split.

    Parameters
    ----------
    train_texts : list of str
    train_y : (n,) int array of class indices in ``0..n_classes-1``
    other_texts : split name -> texts to score with the fold models (averaged)
    folds, seed : as the embedding head's (``dq.auto.train.fold_assignment``)

    Examples
    --------
    >>> texts = [f"great phone {i}" for i in range(10)] + [f"awful phone {i}" for i in range(10)]
    >>> out = cross_fit_lexical(texts, np.array([0] * 10 + [1] * 10), 2, other_texts={"test": ["great"]}, folds=2)
    >>> out.train_probs.shape, bool(out.other_probs["test"][0, 0] > 0.5)
    ((20, 2), True)
    """
    if folds < 2 or folds > len(train_y):
        raise ValidationError(
            f"The 'folds' parameter must be between 2 and the number of training samples "
            f"({len(train_y)}). Got {folds} instead."
        )
    return _compute_lexical(train_texts, np.asarray(train_y, dtype=np.int64), n_classes, other_texts or {}, folds, seed)


def lexical_key(
    train_texts: list[str],
    train_y: np.ndarray,
    n_classes: int,
    other_texts: dict[str, list[str]],
    folds: int,
    seed: int,
) -> str:
    """What the lexical outputs are a function of: texts, labels, splits, settings, the model and scikit-learn."""
    import sklearn

    digest = hashlib.sha256(f"{LEXICAL_MODEL}|{sklearn.__version__}|{n_classes}|{folds}|{seed}".encode())
    digest.update(np.asarray(train_y, dtype=np.int64).tobytes())
    for name, texts in [("training", train_texts), *sorted(other_texts.items())]:
        digest.update(f"\0split {name} {len(texts)}\0".encode())
        update_with_texts(digest, texts)
    return digest.hexdigest()


def cached_cross_fit_lexical(
    train_texts: list[str],
    train_y: np.ndarray,
    n_classes: int,
    *,
    other_texts: dict[str, list[str]],
    folds: int,
    seed: int,
    cache_dir: Path,
) -> LexicalOutputs:
    """:func:`cross_fit_lexical`, kept under ``cache_dir/lexical/<key>.npz`` (content-keyed: the same
    texts, labels and settings give the same outputs, so a rerun or the demo's shipped file skip the fit)."""
    key = lexical_key(train_texts, train_y, n_classes, other_texts, folds, seed)
    path = Path(cache_dir) / LEXICAL_CACHE_DIR / f"{key}.npz"
    shapes = {"training": len(train_texts), **{s: len(t) for s, t in other_texts.items()}}
    loaded = read_lexical(path, shapes, n_classes)
    if loaded is not None:
        return loaded
    out = cross_fit_lexical(train_texts, train_y, n_classes, other_texts=other_texts, folds=folds, seed=seed)
    write_lexical(path, out)
    return out


def read_lexical(path: Path, shapes: dict[str, int], n_classes: int) -> LexicalOutputs | None:
    """The outputs stored at ``path`` when it is whole and of the expected shapes, else None (refit)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in shapes}
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):
        return None
    if any(arrays[s].shape != (n, n_classes) or not np.isfinite(arrays[s]).all() for s, n in shapes.items()):
        return None
    return LexicalOutputs(
        train_probs=arrays["training"].astype(np.float32),
        other_probs={s: a.astype(np.float32) for s, a in arrays.items() if s != "training"},
    )


def write_lexical(path: Path, out: LexicalOutputs) -> None:
    """Store outputs atomically (a temporary file renamed into place, removed on failure)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, Any] = {"training": out.train_probs, **out.other_probs}
    # An open file, not a name: np.savez would append ".npz" to the temporary name.
    with atomic_path(path) as tmp, tmp.open("wb") as fh:
        np.savez_compressed(fh, **arrays)


def _features(train_texts: list[str], all_texts: list[list[str]]) -> tuple[object, list[object]]:
    """Fit the n-gram vocabularies on the training texts; return its matrix and the others'."""
    from scipy.sparse import hstack
    from sklearn.feature_extraction.text import TfidfVectorizer

    # min_df > 1 keeps the vocabulary to n-grams seen twice; a tiny split may have none, so fall back.
    min_df = _MIN_DF if len(train_texts) >= 10 * _MIN_DF else 1
    vectorizers, blocks = [], []
    for kwargs in ({"ngram_range": _WORD_NGRAMS}, {"analyzer": "char_wb", "ngram_range": _CHAR_NGRAMS}):
        for df in dict.fromkeys((min_df, 1)):
            vectorizer = TfidfVectorizer(min_df=df, sublinear_tf=True, **kwargs)
            try:
                blocks.append(vectorizer.fit_transform(train_texts))
            except ValueError:  # no n-gram occurs often enough (e.g. every word unique): try min_df=1
                continue
            vectorizers.append(vectorizer)
            break
    train = hstack(blocks).tocsr()
    others = [hstack([v.transform(texts) for v in vectorizers]).tocsr() for texts in all_texts]
    return train, others


def _compute_lexical(
    train_texts: list[str],
    train_y: np.ndarray,
    n_classes: int,
    other_texts: dict[str, list[str]],
    folds: int,
    seed: int,
) -> LexicalOutputs:
    from joblib import Parallel, delayed

    x, others = _features(train_texts, list(other_texts.values()))
    assignment = fold_assignment(train_y, folds=folds, seed=seed)
    # The fold models are independent: fit them in parallel processes (one per core) when they
    # take long enough to pay for starting the processes.
    n_jobs = max(1, min(folds, os.cpu_count() or 1)) if len(train_y) >= _PARALLEL_MIN_SAMPLES else 1
    fitted = Parallel(n_jobs=n_jobs)(
        delayed(_fit_fold)(x, train_y, assignment != k, assignment == k, others, n_classes) for k in range(folds)
    )
    train_probs = np.zeros((len(train_y), n_classes), dtype=np.float32)
    other_sums = [np.zeros((m.shape[0], n_classes), dtype=np.float64) for m in others]  # type: ignore[attr-defined]
    for k, (held_probs, fold_others) in enumerate(fitted):
        train_probs[assignment == k] = held_probs
        for sums, probs in zip(other_sums, fold_others):
            sums += probs
    return LexicalOutputs(
        train_probs=train_probs,
        other_probs={s: (v / folds).astype(np.float32) for s, v in zip(other_texts, other_sums)},
    )


def _fit_fold(
    x: Any, y: np.ndarray, fit: np.ndarray, held: np.ndarray, others: list[Any], n_classes: int
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Fit one fold's model on ``fit`` rows; its probabilities for the ``held`` rows and every other split."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    present = np.unique(y[fit])

    def full(probs: np.ndarray) -> np.ndarray:
        # A class absent from this fold's training part gets probability 0 from its model.
        out = np.zeros((probs.shape[0], n_classes), dtype=np.float64)
        out[:, present] = probs
        return out

    if len(present) == 1:  # one class to learn: the model is that class
        return full(np.ones((int(held.sum()), 1))), [full(np.ones((m.shape[0], 1))) for m in others]
    model = LogisticRegression(C=_C, max_iter=_MAX_ITER)
    with warnings.catch_warnings():
        # The iteration cap is a cost bound; probabilities at the cap are what we want.
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(x[fit], y[fit])
    return full(model.predict_proba(x[held])), [full(model.predict_proba(m)) for m in others]
