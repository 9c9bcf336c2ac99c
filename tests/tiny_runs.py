"""A tiny three-topic run logged with the public client, shared by the console page tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

import dq
import dq.client
from dq.store import Run

LABELS = ["billing", "delivery", "login"]
WORDS = {"billing": "invoice charge refund", "delivery": "parcel courier arrive", "login": "password account locked"}


def log_tiny_run(
    home: Path,
    *,
    n_train: int = 90,
    n_test: int = 30,
    seed: int = 0,
    first_text: str | None = None,
    project: str = "tiny",
    run: str = "r1",
) -> Path:
    """Three topics, one per label, in 16-d; a few training labels flipped (planted errors).

    Two epochs per split; returns the finished run's directory ``<home>/runs/<project>/<run>``.
    ``first_text`` replaces the first training text (e.g. with HTML that must stay inert).
    """
    rng = np.random.default_rng(seed)
    centres = np.eye(16)[:3] * 4
    dq.init(project=project, run=run, labels=LABELS, home=home)
    for split, n in (("training", n_train), ("test", n_test)):
        topic = np.arange(n) % 3
        texts = [f"{WORDS[LABELS[t]]} question {i}" for i, t in enumerate(topic)]
        if split == "training" and first_text is not None:
            texts[0] = first_text
        labels = [LABELS[t] for t in topic]
        for i in range(1, 7) if split == "training" else ():
            labels[i * 7] = LABELS[(topic[i * 7] + 1) % 3]
        ids = list(range(n))
        dq.log_data_samples(texts=texts, labels=labels, ids=ids, split=split)
        embs = centres[topic] + rng.normal(scale=0.6, size=(n, 16))
        for epoch in (0, 1):
            logits = 2.0 * (epoch + 1) * np.eye(3)[topic] + rng.normal(scale=0.5, size=(n, 3))
            probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
            dq.log_model_outputs(ids=ids, embs=embs, probs=probs, split=split, epoch=epoch)
    return dq.finish()


def fresh_tiny_run(home: Path, **kwargs: Any) -> Run:
    """:func:`log_tiny_run`, opened, with the client's current run cleared (as a new process would have it)."""
    path = log_tiny_run(home, **kwargs)
    dq.client._current = None
    return Run(path)
