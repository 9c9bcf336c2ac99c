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


def inject_noise(
    y: np.ndarray,
    n_classes: int,
    *,
    kind: str,
    seed: int,
    confusion: np.ndarray | None = None,
    rate: float = NOISE_RATE,
) -> np.ndarray:
    """Flip ``rate`` of the labels: ``uniform`` to any other class, ``class_conditional`` drawn
    from the off-diagonal of a model's confusion matrix (row = true class)."""
    rng = np.random.default_rng(seed)
    noisy = y.copy()
    flip = rng.choice(len(y), size=int(round(rate * len(y))), replace=False)
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


def model_confusion(embs: np.ndarray, y: np.ndarray, n_classes: int, *, seed: int) -> np.ndarray:
    """Confusion matrix of the out-of-fold predictions of a head trained on the clean labels."""
    preds = epoch_probs(embs, y, n_classes, seed=seed)[-1].argmax(1)
    cm = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(cm, (y, preds), 1)
    return cm
