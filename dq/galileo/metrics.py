"""``dq.metrics`` of dataquality: a run's samples with their insights, as a pandas DataFrame."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from dq.config import runs_root
from dq.galileo.session import split_key
from dq.store.reader import Run


def _run(project_name: str, run_name: str) -> Run:
    return Run(runs_root() / project_name / run_name)


def get_dataframe(
    project_name: str,
    run_name: str,
    split: Any,
    inference_name: str = "",
    file_type: Any = "arrow",
    include_embs: bool = False,
    include_probs: bool = False,
    include_token_indices: bool = False,
    hf_format: bool = False,
    tagging_schema: Any = None,
    filter: Any = None,  # noqa: A002 - dataquality's name
    as_pandas: bool = True,
    include_data_embs: bool = False,
    meta_cols: list[str] | None = None,
) -> pd.DataFrame:
    """The split's samples with their insights (dq's columns: dep, pred, suggested_label, flags,
    cluster, ...), plus dataquality's names for the common ones: ``gold`` (the label),
    ``data_error_potential`` (DEP), ``gold_idx`` / ``pred_idx``, and ``is_drifted`` (out of
    coverage) where computed. ``include_probs`` adds ``prob_<label>`` columns, ``include_embs`` the
    ``emb`` column. The NER-only arguments, ``file_type`` and ``filter`` are ignored.
    """
    from dq.insights import split_insights

    run = _run(project_name, run_name)
    key = split_key(split, inference_name or None)
    frame = split_insights(run, key).frame.copy()
    index = {name: i for i, name in enumerate(run.labels)}
    frame["gold"] = frame["label"]
    frame["gold_idx"] = [index.get(v, -1) if isinstance(v, str) else -1 for v in frame["label"]]
    frame["pred_idx"] = [index[v] for v in frame["pred"]]
    frame["data_error_potential"] = frame["dep"]
    if "is_out_of_coverage" in frame:
        frame["is_drifted"] = frame["is_out_of_coverage"]
    probs = np.vstack(frame["probs"].to_numpy()) if len(frame) else np.zeros((0, len(run.labels)))
    frame = frame.drop(columns=["probs"])
    if include_probs:
        for j, name in enumerate(run.labels):
            frame[f"prob_{name}"] = probs[:, j]
    if include_embs or include_data_embs:
        frame["emb"] = list(run.embs(key))
    if meta_cols is not None and meta_cols != ["*"]:
        known = set(run.meta["splits"][key].get("meta_columns", []))
        frame = frame.drop(columns=[c for c in known if c not in meta_cols and c in frame])
    return frame


def get_epochs(project_name: str, run_name: str, split: Any) -> list[int]:
    """The epochs logged for the split."""
    return _run(project_name, run_name).epochs(split_key(split))


def get_labels_for_run(project_name: str, run_name: str, task: Any = None) -> list[str]:
    """The run's class names in model output order."""
    return list(_run(project_name, run_name).labels)


def get_embeddings(
    project_name: str, run_name: str, split: Any, inference_name: str = "", epoch: int | None = None
) -> pd.DataFrame:
    """``id`` and ``emb`` of the split's samples at ``epoch`` (default: the last)."""
    run, key = _run(project_name, run_name), split_key(split, inference_name or None)
    return pd.DataFrame({"id": run.samples(key, columns=["id"])["id"], "emb": list(run.embs(key, epoch))})


def get_probabilities(
    project_name: str, run_name: str, split: Any, inference_name: str = "", epoch: int | None = None
) -> pd.DataFrame:
    """``id`` and ``prob`` of the split's samples at ``epoch`` (default: the last)."""
    run, key = _run(project_name, run_name), split_key(split, inference_name or None)
    return pd.DataFrame({"id": run.samples(key, columns=["id"])["id"], "prob": list(run.probs(key, epoch))})


def get_raw_data(
    project_name: str, run_name: str, split: Any, inference_name: str = "", epoch: int | None = None
) -> pd.DataFrame:
    """The split's samples as logged: id, text, label and metadata."""
    return _run(project_name, run_name).samples(split_key(split, inference_name or None))
