"""Retrain on a fixed dataset: the last step of fixing (``dq.edits.compare`` scores the result).

``retrain`` writes the fixed rows of one split, plus the run's other splits unchanged, to a
Parquet file and runs the ``dq auto`` pipeline on it with the original run's settings; the new run
lands in the same project as ``<run>-fixed-<hash>``, so retraining the same fixed data reuses it.
``RetrainJob`` does that in a background thread (the console keeps its jobs in
``dq_console.jobs`` and polls them). Pure library: no streamlit.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from dq.auto.jobs import AutoJob
from dq.auto.pipeline import AutoResult, AutoSettings, ProgressFn, auto, fingerprint
from dq.config import cache_root
from dq.errors import ValidationError
from dq.splits import TRAINING
from dq.store.reader import Run

#: Hex digits of the data fingerprint in a retrained run's default name.
_NAME_HASH_CHARS = 8
# Settings copied from a dq auto run; the column roles are set by the file retrain writes.
_COPIED_SETTINGS = ("epochs", "folds", "seed", "model", "lexical", "fine_tune")
_CACHE_SUBDIR = "retrain"


@dataclass(frozen=True)
class _Columns:
    """Names of the role columns in the file retrain writes (the original file's, where known)."""

    text: str
    label: str
    id: str
    split: str


def retrain(
    run: Run,
    fixed: pd.DataFrame,
    *,
    split: str = TRAINING,
    project: str | None = None,
    name: str | None = None,
    home: Path | None = None,
    log: Callable[[str], None] | None = None,
    progress: ProgressFn | None = None,
) -> AutoResult:
    """Train a new run on ``fixed`` (the edited ``split``) and ``run``'s other splits unchanged.

    Parameters
    ----------
    run : Run
        The run whose data was fixed. A ``dq auto`` run lends its settings (epochs, folds, seed,
        embedding model); any other run gets ``dq auto``'s defaults (MiniLM embeddings).
    fixed : pandas.DataFrame
        The fixed samples of ``split``, e.g. ``dq.edits.apply.fix(...).frame``: the text and
        label columns under the original file's names (or ``text``/``label``), an id column
        (the original id column's name, or ``id``) and any metadata columns.
    split : str
        The split ``fixed`` replaces; every other split of ``run`` is copied unchanged.
    project, name : str, optional
        Where the new run goes; default ``run``'s project and ``<run>-fixed-<hash of the data>``.
    home : Path, optional
        The dq home (runs and the embedding cache); default ``$DQ_HOME`` or ``~/.dq``.
    log, progress : callable, optional
        ``log(line)`` hears what dq auto says; ``progress(fraction, message)`` how far it is (0..1).

    Returns
    -------
    AutoResult
        ``path`` of the new run; ``reused`` is True when this exact data was retrained before.

    Examples
    --------
    >>> from dq.edits.apply import fix                                  # doctest: +SKIP
    >>> run = Run("~/.dq/runs/demo/banking77")                          # doctest: +SKIP
    >>> result = retrain(run, fix(run, "training", auto_fix="relabel").frame)  # doctest: +SKIP
    >>> compare(run, Run(result.path))                                  # doctest: +SKIP
    """
    if not isinstance(run, Run):
        raise ValidationError(f"The 'run' parameter of retrain must be a Run. Got {type(run).__name__} instead.")
    if split not in run.splits:
        raise ValidationError(
            f"The 'split' parameter of retrain must be one of the run's splits {run.splits}. Got {split!r} instead."
        )
    if not isinstance(fixed, pd.DataFrame) or fixed.empty:
        got = "an empty DataFrame" if isinstance(fixed, pd.DataFrame) else type(fixed).__name__
        raise ValidationError(
            f"The 'fixed' parameter of retrain must be a non-empty DataFrame of samples. Got {got} instead."
        )
    roles = _role_columns(run, fixed)
    return _compute_retrain(
        run, fixed, roles, split=split, project=project, name=name, home=home, log=log, progress=progress
    )


def _compute_retrain(
    run: Run,
    fixed: pd.DataFrame,
    roles: dict[str, str],
    *,
    split: str,
    project: str | None,
    name: str | None,
    home: Path | None,
    log: Callable[[str], None] | None,
    progress: ProgressFn | None,
) -> AutoResult:
    table, columns = _dataset(run, fixed, roles, split)
    settings = _settings(run, columns)
    root = cache_root(home) / _CACHE_SUBDIR
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root) as tmp:
        data = Path(tmp) / f"{run.name}-fixed.parquet"
        pq.write_table(table, data)
        # The same fixed data gives the same bytes, so the same name: a second retrain reuses the run.
        digest = fingerprint(hashlib.sha256(data.read_bytes()).hexdigest(), settings)
        name = name or f"{run.name}-fixed-{digest[:_NAME_HASH_CHARS]}"
        return auto(
            data,
            settings,
            project=project or run.project,
            run=name,
            home=home,
            progress=progress if progress is not None else False,
            log=log,
            parent=f"{run.project}/{run.name}",
        )


def _source_settings(run: Run) -> dict[str, Any] | None:
    source = run.auto_source
    if source is None or not isinstance(source.get("settings"), dict):
        return None
    return source["settings"]


def _role_columns(run: Run, fixed: pd.DataFrame) -> dict[str, str]:
    """The columns of ``fixed`` holding text, label and id: the original file's names, or the run's."""
    original = _source_settings(run) or {}
    picked = {}
    for role in ("text", "label", "id"):
        names = [n for n in (original.get(role), role) if n]
        found = next((n for n in names if n in fixed.columns), None)
        if found is None:
            raise ValidationError(
                f"The 'fixed' parameter of retrain must have a {role} column (named "
                f"{' or '.join(repr(n) for n in dict.fromkeys(names))}). Got columns {list(fixed.columns)} instead."
            )
        picked[role] = found
    missing = int(fixed[picked["id"]].isna().sum())
    if missing:
        raise ValidationError(
            f"The 'fixed' parameter of retrain must have an id on every row. Got {missing} row(s) "
            f"without one in column {picked['id']!r} instead."
        )
    return picked


def _dataset(run: Run, fixed: pd.DataFrame, roles: dict[str, str], split: str) -> tuple[pa.Table, _Columns]:
    """The file's rows: every split of ``run`` in order, ``split``'s rows replaced by ``fixed``."""
    parts = [fixed if name == split else _like(run.samples(name).rename(columns=roles), fixed) for name in run.splits]
    # A dq auto run's split column was consumed by dq auto (so a column of that name in ``fixed``
    # is that column); otherwise the split column takes a name no metadata column has.
    split_col = (_source_settings(run) or {}).get("split")
    if not split_col:
        taken = {c for part in parts for c in part.columns}
        split_col = "split"
        while split_col in taken:
            split_col = f"_{split_col}"
    frame = pd.concat([part.assign(**{split_col: name}) for part, name in zip(parts, run.splits)], ignore_index=True)
    # dq auto reads an id column as strings; writing them so keeps a sample's id across runs.
    frame[roles["id"]] = frame[roles["id"]].astype(str)
    table = pa.table({c: _arrow_column(frame[c]) for c in frame.columns})
    return table, _Columns(text=roles["text"], label=roles["label"], id=roles["id"], split=split_col)


def _like(samples: pd.DataFrame, fixed: pd.DataFrame) -> pd.DataFrame:
    """``samples`` with a stored ``meta_<x>`` column renamed ``<x>`` where ``fixed`` calls it so.

    dq auto stores a file column named like a sample column (``label``) as ``meta_label``; the
    fixed dataset gives it its file name back, and the other splits must use the same name.
    """
    prefix = "meta_"
    names = {
        c: c.removeprefix(prefix)
        for c in samples.columns
        if c.startswith(prefix)
        and c not in fixed.columns
        and c.removeprefix(prefix) in fixed.columns
        and c.removeprefix(prefix) not in samples.columns
    }
    return samples.rename(columns=names)


def _arrow_column(values: pd.Series) -> pa.Array:
    try:
        return pa.array(values, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        # Metadata whose type differs between splits (numbers here, strings there) goes as text.
        return pa.array(values.map(lambda v: None if pd.isna(v) else str(v)), type=pa.string())


def _settings(run: Run, columns: _Columns) -> AutoSettings:
    original = _source_settings(run) or {}
    copied = {k: original[k] for k in _COPIED_SETTINGS if k in original}
    return AutoSettings(text=columns.text, label=columns.label, id=columns.id, split=columns.split, **copied)


class RetrainJob(AutoJob):
    """``retrain`` running in a background thread (see :class:`dq.auto.jobs.AutoJob`).

    >>> job = RetrainJob.start(run, fixed)                    # doctest: +SKIP
    >>> job.wait(); job.result.path                           # doctest: +SKIP
    """

    @classmethod
    def start(cls, run: Run, fixed: pd.DataFrame, **kw: Any) -> Self:  # type: ignore[override]
        """Start ``retrain(run, fixed, **kw)`` in a daemon thread and return its job at once."""
        return super().start(retrain, run, fixed, **kw)
