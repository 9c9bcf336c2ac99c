"""Reading finished runs, and listing the runs (finished or not) under a dq home."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from dq.config import AUTO_TOOL, CROSS_FITTED, IN_SAMPLE, READABLE_SCHEMA_VERSIONS, TRAINING_OUTPUTS, runs_root
from dq.errors import RunFormatError, UnfinishedRunError, ValidationError
from dq.splits import SPLITS, is_split, ordered_splits
from dq.store import layout
from dq.store.integrity import check_run, parquet_rows, refuse_damaged, verify_run

#: Rows decoded at a time by ``Run.outputs``: small enough that decoding buffers stay far below
#: the result's size, large enough that the per-batch Python overhead is negligible.
_READ_BATCH_ROWS = 16_384
#: ... and at most this many values (rows x width) a batch.
_READ_BATCH_CELLS = 1 << 23


@dataclass(frozen=True)
class Outputs:
    """Model outputs of one split at one epoch, row-aligned with ``Run.samples(split)``."""

    probs: np.ndarray  # (n, n_labels) float32, columns in ``Run.labels`` order
    embs: np.ndarray  # (n, embedding_dim) float32


def _part_paths(directory: Path) -> list[Path]:
    parts = sorted(directory.glob("part-*.parquet"))
    if not parts:
        raise RunFormatError(f"{directory} holds no Parquet parts; the run is damaged.")
    return parts


def _read_parts(directory: Path, columns: list[str] | None = None) -> pa.Table:
    tables = []
    for part in _part_paths(directory):
        with refuse_damaged(part):
            tables.append(pq.read_table(part, columns=columns))
    return pa.concat_tables(tables)


def _fill_rows(dest: np.ndarray, rows: np.ndarray, values: pa.FixedSizeListArray) -> None:
    """Copy a fixed-size-list array into ``dest[rows]``."""
    # flatten() honours the array's offset; float32 without nulls converts without a copy.
    matrix = values.flatten().to_numpy(zero_copy_only=False).reshape(-1, dest.shape[1])
    if len(rows) and rows[-1] - rows[0] == len(rows) - 1 and np.all(np.diff(rows) == 1):
        dest[rows[0] : rows[-1] + 1] = matrix  # parts logged in order: a slice copy beats a scatter
    else:
        dest[rows] = matrix


class Run:
    """A finished run directory, opened read-only.

    Examples
    --------
    >>> run = Run("~/.dq/runs/demo/banking77")  # doctest: +SKIP
    >>> run.labels[:2], run.splits  # doctest: +SKIP
    (['activate_my_card', 'age_limit'], ['training', 'test'])
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser()
        self.meta = read_run_json(self.path)
        check_run(self.path, self.meta)  # cheap unless a file changed since it was last verified
        self.labels: list[str] = list(self.meta["labels"])
        self.splits: list[str] = ordered_splits(self.meta["splits"])

    @property
    def project(self) -> str:
        return str(self.meta["project"])

    @property
    def name(self) -> str:
        return str(self.meta["run"])

    @property
    def training_outputs(self) -> str:
        """``"cross_fitted"`` or ``"in_sample"``: how the training outputs were produced (see dq.config).

        Runs written before dq recorded it: ``dq auto`` runs were cross-fitted, all others in-sample.
        """
        recorded = self.meta.get("training_outputs")
        if recorded in TRAINING_OUTPUTS:
            return str(recorded)
        return CROSS_FITTED if self.auto_source is not None else IN_SAMPLE

    @property
    def auto_source(self) -> dict[str, Any] | None:
        """run.json's ``source`` when ``dq auto`` built the run (the data file, its settings, ...), else None."""
        source = self.meta.get("source")
        return source if isinstance(source, dict) and source.get("tool") == AUTO_TOOL else None

    @property
    def content_hash(self) -> str:
        return str(self.meta["content_hash"])

    def n_samples(self, split: str) -> int:
        return int(self._split_meta(split)["n_samples"])

    def epochs(self, split: str) -> list[int]:
        """The epochs logged for ``split``, ascending."""
        return [int(e) for e in self._split_meta(split)["epochs"]]

    def samples(self, split: str, *, columns: list[str] | None = None) -> pd.DataFrame:
        """The samples of ``split`` in logging order: id, text, label and metadata columns."""
        return self.samples_table(split, columns=columns).to_pandas()

    def samples_table(self, split: str, *, columns: list[str] | None = None) -> pa.Table:
        """The samples of ``split`` as an Arrow table (no Python object per text), in logging order."""
        self._split_meta(split)
        return _read_parts(layout.samples_dir(self.path, split), columns)

    def outputs(self, split: str, epoch: int | None = None) -> Outputs:
        """Probabilities and embeddings of ``split`` at ``epoch`` (default: the last epoch)."""
        read = self._read_outputs(split, epoch, ("probs", "emb"))
        return Outputs(probs=read["probs"], embs=read["emb"])

    def probs(self, split: str, epoch: int | None = None) -> np.ndarray:
        """Only the (n, n_labels) probabilities of ``split`` at ``epoch`` (default: the last)."""
        return self._read_outputs(split, epoch, ("probs",))["probs"]

    def embs(self, split: str, epoch: int | None = None, *, dtype: Any = np.float32) -> np.ndarray:
        """Only the (n, embedding_dim) embeddings of ``split`` at ``epoch`` (default: the last), as
        ``dtype`` (float32, or float16: half the memory, converted batch by batch as they are read)."""
        if np.dtype(dtype) not in (np.float32, np.float16):
            raise ValidationError(f"The 'dtype' parameter must be float32 or float16. Got {dtype!r} instead.")
        return self._read_outputs(split, epoch, ("emb",), dtype=np.dtype(dtype))["emb"]

    @property
    def views(self) -> dict[str, list[str]]:
        """Second models' probabilities stored in the run: view name -> the splits it covers."""
        views = self.meta.get("views") or {}
        return {str(v): ordered_splits(entry.get("splits", [])) for v, entry in views.items()}

    def view_probs(self, view: str, split: str) -> np.ndarray:
        """The (n, n_labels) probabilities of ``view`` for ``split``, row-aligned with ``samples(split)``."""
        if split not in self.views.get(view, []):
            raise ValidationError(
                f"The 'view' parameter must name a view stored for split '{split}' "
                f"({[v for v, s in self.views.items() if split in s]}). Got {view!r} instead."
            )
        return self._read_rows(layout.view_dir(self.path, view, split), split, ("probs",), f"view '{view}'")["probs"]

    def _read_outputs(
        self, split: str, epoch: int | None, columns: tuple[str, ...], *, dtype: np.dtype = np.dtype(np.float32)
    ) -> dict[str, np.ndarray]:
        epochs = self.epochs(split)
        epoch = epochs[-1] if epoch is None else epoch
        if epoch not in epochs:
            raise ValidationError(
                f"The 'epoch' parameter must be one of the epochs logged for split '{split}' "
                f"({epochs}). Got {epoch!r} instead."
            )
        out: dict[str, np.ndarray] = {}
        if "emb" in columns and self._split_meta(split).get("embeddings") == "shared":  # stored once
            out = self._read_rows(layout.embeddings_dir(self.path, split), split, ("emb",), "the embeddings", dtype)
            columns = tuple(c for c in columns if c != "emb")
        if columns:
            where = layout.outputs_dir(self.path, split, epoch)
            out.update(self._read_rows(where, split, columns, f"epoch {epoch}", dtype))
        return out

    def _read_rows(
        self, directory: Path, split: str, columns: tuple[str, ...], what: str, dtype: np.dtype = np.dtype(np.float32)
    ) -> dict[str, np.ndarray]:
        """Matrix columns of the parts in ``directory``, placed by their ``row`` column (``emb`` as
        ``dtype``, the others float32)."""
        # Fill preallocated arrays batch by batch: peak memory is the result plus a few hundred MB
        # of decoding buffers at 1M x 384, not (as with concatenating every part first) about
        # three copies of the embeddings.
        parts = _part_paths(directory)
        n = self.n_samples(split)
        n_rows = sum(parquet_rows(p) for p in parts)
        if n_rows != n:
            raise RunFormatError(f"{self.path}: {what} of split '{split}' holds {n_rows} rows, expected {n}.")
        with refuse_damaged(parts[0]):
            schema = pq.read_schema(parts[0])
        out = {
            c: np.empty((n, schema.field(c).type.list_size), dtype=dtype if c == "emb" else np.float32) for c in columns
        }
        # Rows a batch: wide rows (10,000 classes) in smaller batches, so decoding stays small.
        width = sum(schema.field(c).type.list_size for c in columns)
        batch_rows = max(1, min(_READ_BATCH_ROWS, _READ_BATCH_CELLS // max(width, 1)))
        for part in parts:
            with refuse_damaged(part), pq.ParquetFile(part) as reader:
                for batch in reader.iter_batches(batch_size=batch_rows, columns=["row", *columns]):
                    rows = batch.column("row").to_numpy()
                    for c in columns:
                        _fill_rows(out[c], rows, batch.column(c))
        return out

    def verify(self) -> bool:
        """Hash every byte of the run and compare with what was recorded at finish (``dq verify``)."""
        try:
            verify_run(self.path, self.meta)
        except RunFormatError:
            return False
        return True

    def check_split(self, split: str) -> None:
        """Refuse, in one line, a split this run does not have."""
        if split not in self.meta["splits"]:
            raise ValidationError(
                f"The 'split' parameter must be one of this run's splits {self.splits}. Got {split!r} instead."
            )

    def _split_meta(self, split: str) -> dict[str, Any]:
        self.check_split(split)
        return self.meta["splits"][split]


def read_run_json(path: Path, *, staging: bool = False) -> dict[str, Any]:
    """Read and check ``run.json`` of a run directory; refuse unfinished and foreign directories
    (``staging``: ``path`` is a finished run's staging directory, checked before it is renamed)."""
    if (layout.is_staging_name(path.name) and not staging) or (path / layout.IN_PROGRESS).exists():
        raise UnfinishedRunError(_unfinished_message(path))
    run_json = path / layout.RUN_JSON
    if not run_json.exists():
        partial = sorted(path.parent.glob(f".{path.name}{layout.PARTIAL_INFIX}*")) if path.parent.exists() else []
        if partial:
            raise UnfinishedRunError(_unfinished_message(partial[-1]))
        if path.is_dir():
            raise RunFormatError(f"{path} is not a dq run: it has no {layout.RUN_JSON}.")
        if path.is_file():
            raise RunFormatError(
                f"{path} is a file, not a run directory; if it is a dataset, make a run of it first: "
                f"dq auto {path} --text-col TEXT --label-col LABEL"
            )
        raise RunFormatError(f"{path} does not exist.")
    try:
        meta = json.loads(run_json.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RunFormatError(f"{run_json} is not valid JSON ({exc}).") from None
    version = meta.get("schema_version") if isinstance(meta, dict) else None
    if version not in READABLE_SCHEMA_VERSIONS:
        raise RunFormatError(
            f"{path} has run format version {version!r}; this dq reads versions {list(READABLE_SCHEMA_VERSIONS)}."
        )
    problem = _meta_problem(meta)
    if problem:
        raise RunFormatError(f"{run_json} is damaged: {problem}.")
    return meta


def _meta_problem(meta: dict[str, Any]) -> str | None:
    """What is wrong with the shape of a run.json (None when nothing is)."""
    for key in ("project", "run", "content_hash"):
        if not isinstance(meta.get(key), str):
            return f"{key!r} is missing or not text"
    labels = meta.get("labels")
    if not isinstance(labels, list) or not labels or not all(isinstance(c, str) for c in labels):
        return "'labels' must be a non-empty list of class names"
    if len(set(labels)) != len(labels):
        return "'labels' names a class twice"
    splits = meta.get("splits")
    if not isinstance(splits, dict) or not splits:
        return "'splits' is missing or empty"
    for split, info in splits.items():
        if not is_split(split):
            return f"'splits' holds {split!r}, not one of {list(SPLITS)} or 'inference=NAME'"
        if not isinstance(info, dict) or not isinstance(info.get("n_samples"), int) or info["n_samples"] < 1:
            return f"split {split!r} has no sample count"
        if info.get("embeddings", "per_epoch") not in ("per_epoch", "shared"):
            return f"split {split!r} has an unknown 'embeddings' value"
        epochs = info.get("epochs")
        if not isinstance(epochs, list) or not epochs or not all(isinstance(e, int) for e in epochs):
            return f"split {split!r} has no list of epochs"
    return None


def _unfinished_message(staging: Path) -> str:
    started = "at an unknown time"
    marker = staging / layout.IN_PROGRESS
    if marker.exists():
        try:
            info = json.loads(marker.read_text())
            started = f"at {info.get('started')} by process {info.get('pid')}"
        except (json.JSONDecodeError, OSError):
            pass
    return (
        f"run at {staging} is unfinished: logging started {started} and never finished "
        f"(crash or interrupt); it cannot be read. Log it again."
    )


@dataclass(frozen=True)
class RunEntry:
    """One directory found under ``<home>/runs``: a finished run, or an unfinished one and why.

    The counts are read from ``run.json`` of a finished run; an unfinished entry leaves them empty.
    """

    project: str
    run: str  # for a staging directory, the name of the run it was meant to become
    path: Path
    finished: bool
    meta: dict[str, Any] | None  # run.json of a finished run, else None
    reason: str = ""  # why an unfinished directory is not a run; "" when finished
    created: str = ""  # ISO 8601, as written in run.json
    n_samples: dict[str, int] = field(default_factory=dict)  # per split, in run.json order
    n_epochs: dict[str, int] = field(default_factory=dict)  # epochs logged per split
    n_labels: int = 0


def list_runs(home: Path | None = None) -> list[RunEntry]:
    """Every run directory under ``<home>/runs/<project>/``, finished ones first, newest first.

    A directory is finished when its ``run.json`` reads as a run of this dq's format. Any other
    directory is listed with ``finished=False`` and a ``reason``: a staging directory (being
    logged, or left by a crash), a hidden one, one without ``run.json``, or one whose ``run.json``
    is unreadable or malformed (reported rather than raised, so one damaged run never hides the
    others). Hidden folders beside the projects, and the old copy of a run being replaced, are
    not listed.

    Examples
    --------
    >>> import tempfile
    >>> list_runs(Path(tempfile.mkdtemp()))
    []
    """
    root = runs_root(home)
    if not root.is_dir():
        return []
    entries = [
        _entry(project_dir.name, run_dir)
        for project_dir in _subdirs(root)
        if not project_dir.name.startswith(".")
        for run_dir in _subdirs(project_dir)
        if not _is_replaced_copy(run_dir.name)
    ]
    entries.sort(key=lambda e: (not e.finished, -_created_ts(e.created)))
    return entries


def _subdirs(path: Path) -> list[Path]:
    return sorted(p for p in path.iterdir() if p.is_dir())


def _is_replaced_copy(name: str) -> bool:
    """The old run an overwrite moves aside just before deleting it (``RunWriter._move_into_place``)."""
    return layout.is_staging_name(name) and f"{layout.PARTIAL_INFIX}replaced-" in name


def _entry(project: str, run_dir: Path) -> RunEntry:
    name = run_dir.name

    def unfinished(reason: str, run: str = name) -> RunEntry:
        return RunEntry(project, run, run_dir, False, None, reason=reason)

    if layout.is_staging_name(name):
        target = layout.target_name_of_staging(name)
        return unfinished(f"being logged, or interrupted while logging (run {target!r})", target)
    if name.startswith("."):
        return unfinished("hidden directory")
    if not (run_dir / layout.RUN_JSON).is_file():
        return unfinished(f"no {layout.RUN_JSON}: never finished")
    try:
        meta = read_run_json(run_dir)
    except (OSError, RunFormatError, UnfinishedRunError) as exc:
        return unfinished(f"{layout.RUN_JSON} unreadable: {exc}")
    try:
        splits = meta["splits"]
        return RunEntry(
            project,
            name,
            run_dir,
            True,
            meta,
            created=str(meta["created"]),
            n_samples={str(s): int(v["n_samples"]) for s, v in splits.items()},
            n_epochs={str(s): len(v.get("epochs", [])) for s, v in splits.items()},
            n_labels=len(meta["labels"]),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        return unfinished(f"{layout.RUN_JSON} malformed: {type(exc).__name__}: {exc}")


def _created_ts(created: str) -> float:
    if not created:
        return 0.0
    try:
        return pd.Timestamp(created).timestamp()
    except (ValueError, TypeError):
        return 0.0
