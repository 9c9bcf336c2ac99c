"""Label-noise benchmark data: real datasets, embeddings, and seeded noise injection.

Used by bench_label_errors.py (DEP vs cleanlab) and the retrain benchmark.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dq.auto.embed import embed_texts  # noqa: E402
from dq.auto.train import HeadSettings, cross_fit  # noqa: E402

SHARED = ROOT.parent / "shared" / "datasets"
NOISE_RATE = 0.10


@dataclass(frozen=True)
class Dataset:
    name: str
    texts: list[str]
    y: np.ndarray  # clean labels as class indices
    classes: list[str]


def load_dataset(name: str) -> Dataset:
    """The training portion of one of the shared datasets."""
    if name == "banking77":
        df = pd.read_csv(SHARED / "banking77" / "train.csv", dtype=str, keep_default_na=False)
        text, label = df["text"], df["category"]
    elif name in ("trec", "trec_fine"):
        df = pd.read_csv(SHARED / "trec" / "trec.csv", dtype=str, keep_default_na=False)
        df = df[df["split"] == "train"]
        text, label = df["text"], df["label_coarse" if name == "trec" else "label_fine"]
    elif name == "mr":
        df = pd.read_csv(SHARED / "mr" / "mr.csv", dtype=str, keep_default_na=False)
        text, label = df["text"], df["label"]
    elif name == "sms_spam":
        df = pd.read_csv(SHARED / "sms_spam" / "sms_spam.csv", dtype=str, keep_default_na=False)
        text, label = df["text"], df["label"]
    else:
        raise ValueError(f"unknown dataset {name!r}")
    classes = sorted(label.unique())
    index = {c: i for i, c in enumerate(classes)}
    return Dataset(name, text.tolist(), np.array([index[v] for v in label], dtype=np.int64), classes)


def embeddings(ds: Dataset, *, cache_home: Path | None = None) -> np.ndarray:
    cache = (cache_home or Path(os.environ.get("DQ_HOME", Path.home() / ".dq"))) / "cache"
    return embed_texts(ds.texts, cache_dir=cache, progress=True)


def epoch_probs(
    embs: np.ndarray, y: np.ndarray, n_classes: int, *, seed: int, settings: HeadSettings | None = None
) -> np.ndarray:
    """(epochs, n, C) out-of-fold probabilities from the dq auto head trained on labels ``y``."""
    settings = settings or HeadSettings(seed=seed)
    return np.stack([o.train_probs for o in cross_fit(embs, y, n_classes, settings=settings, progress=False)])


#: Noise kinds inject_noise knows.
NOISE_KINDS = ("uniform", "class_conditional", "instance")
# Instance-dependent noise: even the least ambiguous sample keeps this much weight to be flipped,
# and even the least likely other class this much weight to be the new label.
_FLIP_FLOOR = 1e-3


def inject_noise(
    y: np.ndarray,
    n_classes: int,
    *,
    kind: str,
    seed: int,
    confusion: np.ndarray | None = None,
    weak_probs: np.ndarray | None = None,
    rate: float = NOISE_RATE,
) -> np.ndarray:
    """Flip ``rate`` of the labels: ``uniform`` to any other class, ``class_conditional`` drawn
    from the off-diagonal of a model's confusion matrix (row = true class), ``instance`` following
    a weak model's probabilities for each sample (:func:`weak_model_probs`): a sample is flipped
    with weight ``1 - p(true class)`` (ambiguous texts get mislabeled), towards another class with
    weight ``p(class)`` (towards the class it resembles) -- closer to crowd noise than flips drawn
    from a confusion matrix, which ignore the text itself."""
    rng = np.random.default_rng(seed)
    noisy = y.copy()
    n_flip = int(round(rate * len(y)))
    if kind == "instance":
        assert weak_probs is not None and weak_probs.shape == (len(y), n_classes)
        rows = np.arange(len(y))
        ambiguity = 1.0 - weak_probs[rows, y] + _FLIP_FLOOR
        flip = rng.choice(len(y), size=n_flip, replace=False, p=ambiguity / ambiguity.sum())
        towards = weak_probs[flip] + _FLIP_FLOOR
        towards[np.arange(len(flip)), y[flip]] = 0.0
        towards /= towards.sum(axis=1, keepdims=True)
        noisy[flip] = [rng.choice(n_classes, p=row) for row in towards]
        return noisy
    flip = rng.choice(len(y), size=n_flip, replace=False)
    if kind == "uniform":
        shift = rng.integers(1, n_classes, size=len(flip))
        noisy[flip] = (y[flip] + shift) % n_classes
        return noisy
    assert confusion is not None
    off = confusion.astype(np.float64).copy()
    np.fill_diagonal(off, 0)
    for i in flip:
        row = off[y[i]]
        if row.sum() == 0:
            row = np.ones(n_classes)
            row[y[i]] = 0
        noisy[i] = rng.choice(n_classes, p=row / row.sum())
    return noisy


def lexical_probs(texts: list[str], y: np.ndarray, n_classes: int, *, seed: int, min_df: int = 1) -> np.ndarray:
    """Out-of-fold probabilities of TF-IDF + logistic regression trained on ``y`` (5 folds): the
    baseline a practitioner writes first, with cleanlab on top (``min_df`` as TfidfVectorizer's)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    words = TfidfVectorizer(min_df=min_df, sublinear_tf=True).fit_transform(texts)
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=seed)
    probs = cross_val_predict(LogisticRegression(max_iter=1000), words, y, cv=folds, method="predict_proba")
    assert probs.shape[1] == n_classes  # every class has members in every training fold
    return probs


def weak_model_probs(ds: Dataset, embs: np.ndarray, *, seed: int = 0) -> np.ndarray:
    """Out-of-fold probabilities of weak models trained on the clean labels: the mean of a lexical
    one (TF-IDF words + logistic regression) and the dq auto head on the embeddings after one
    epoch. Both views decide who resembles which class, so neither detector's own view is favoured."""
    n_classes = len(ds.classes)
    lexical = lexical_probs(ds.texts, ds.y, n_classes, seed=seed, min_df=2)
    dense = epoch_probs(embs, ds.y, n_classes, seed=seed, settings=HeadSettings(seed=seed, epochs=1))[-1]
    return (lexical + dense) / 2


def model_confusion(embs: np.ndarray, y: np.ndarray, n_classes: int, *, seed: int) -> np.ndarray:
    """Confusion matrix of the out-of-fold predictions of a head trained on the clean labels."""
    preds = epoch_probs(embs, y, n_classes, seed=seed)[-1].argmax(1)
    cm = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(cm, (y, preds), 1)
    return cm
