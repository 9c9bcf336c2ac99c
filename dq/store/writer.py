"""RunWriter: validated, chunked, atomic writing of one run directory.

Samples and model outputs are buffered per split (and epoch) and written as Parquet parts of at
most ``CONFIG.chunk_rows`` rows, so logging 1M samples with 384-d embeddings holds one chunk per
open (split, epoch) in memory, not the run. Everything goes to a hidden staging directory;
:meth:`RunWriter.finish` checks completeness, writes ``run.json`` and renames the staging
directory into place, so a crash or Ctrl-C never leaves a run that looks finished.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from dq._util.validate import (
    as_ids,
    as_labels_list,
    as_matrix,
    as_name,
    as_non_negative_int,
    as_texts,
    check_probs,
    check_same_length,
    duplicated,
    examples,
    softmax,
)
from dq.config import CONFIG, IN_SAMPLE, RUN_SCHEMA_VERSION, TRAINING_OUTPUTS, VERSION
from dq.errors import RunStateError, ValidationError
from dq.splits import check_split, is_inference, ordered_splits
from dq.store import layout
from dq.store.integrity import seal
from dq.store.parts import (
    EpochState,
    SplitState,
    check_new_ids,
    conform,
    fixed_list,
    flush_outputs,
    flush_samples,
    incompleteness,
    meta_columns,
    rows_of,
)
from dq.store.shared_embs import write_shared_embeddings
from dq.store.views import check_view_name, write_view


class RunWriter:
    """Write one run: ``add_samples`` and ``add_outputs`` in any number of calls, then ``finish``.

    Parameters
    ----------
    target : Path
        The run directory to create (``<home>/runs/<project>/<run>``).
    project, run : str
        Names recorded in ``run.json``.
    labels : sequence
        Class names in model output order; stored as strings.
    overwrite : bool
        Replace a finished run already at ``target`` when finishing (default: refuse).
    extra : dict, optional
        JSON-serialisable facts added to ``run.json`` under ``"source"`` (dq auto records its inputs).

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> w = RunWriter(Path(tempfile.mkdtemp()) / "r", project="p", run="r", labels=["a", "b"])
    >>> w.add_samples(texts=["x", "y"], labels=["a", "b"], ids=[0, 1], split="training")
    >>> w.add_outputs(ids=[0, 1], embs=np.eye(2), probs=[[0.9, 0.1], [0.2, 0.8]], split="training", epoch=0)
    >>> (w.finish() / "run.json").exists()
    True
    """

    def __init__(
        self,
        target: Path,
        *,
        project: str,
        run: str,
        labels: Any,
        overwrite: bool = False,
        extra: dict[str, Any] | None = None,
        chunk_rows: int = CONFIG.chunk_rows,
        training_outputs: str = IN_SAMPLE,
    ) -> None:
        as_name(project, param="project")
        as_name(run, param="run")
        if training_outputs not in TRAINING_OUTPUTS:
            raise ValidationError(
                f"The 'training_outputs' parameter must be one of {list(TRAINING_OUTPUTS)}. "
                f"Got {training_outputs!r} instead."
            )
        self.training_outputs = training_outputs
        self.target = Path(target)
        self.project, self.run = project, run
        self.labels = as_labels_list(labels)
        self.overwrite = overwrite
        self.extra = dict(extra or {})
        self.chunk_rows = chunk_rows
        if not overwrite:
            layout.refuse_existing(self.target)
        self._label_index = {name: i for i, name in enumerate(self.labels)}
        self._splits: dict[str, SplitState] = {}
        self._id_type: str | None = None
        self._emb_dim: int | None = None
        self._output_kind: str | None = None
        self._views: dict[str, dict[str, Any]] = {}
        self._finished = False
        self.staging = layout.staging_dir(self.target, uuid.uuid4().hex[:12])
        self.staging.mkdir(parents=True)
        marker = {
            "pid": os.getpid(),
            "started": datetime.now(UTC).isoformat(timespec="seconds"),
            "target": str(self.target),
        }
        (self.staging / layout.IN_PROGRESS).write_text(json.dumps(marker))

    # ----------------------------------------------------------------- samples
    def add_samples(
        self,
        *,
        texts: Any,
        labels: Any = None,
        ids: Any = None,
        split: str,
        meta: dict[str, Any] | None = None,
    ) -> None:
        """Validate and buffer a batch of samples of one split (see ``dq.log_data_samples``)."""
        self._check_open()
        split = check_split(split)
        texts = as_texts(texts)
        n = len(texts)
        # A split is recorded only once a batch of it passed every check: a refused first batch
        # leaves nothing behind for finish() to trip over.
        state = self._splits.get(split) or SplitState()
        if ids is None:
            if self._id_type == "str":
                raise ValidationError("The 'ids' parameter must be given: this run uses str ids. Got None instead.")
            start = len(state.index)
            ids_arr, kind = np.arange(start, start + n, dtype=np.int64), "int"
        else:
            ids_arr, kind = as_ids(ids, id_type=self._id_type)
            check_same_length("ids", ids_arr, n, other="texts")
        check_new_ids(ids_arr, state, split)
        if state.shared_embs:
            raise RunStateError(f"Split '{split}' has its embeddings stored already: log all its samples before them.")
        label_names = self._check_labels(labels, n, split)
        columns: dict[str, pa.Array] = {
            "id": pa.array(ids_arr.tolist(), type=pa.int64() if kind == "int" else pa.string()),
            "text": pa.array(texts, type=pa.large_string()),
            "label": pa.array(label_names, type=pa.string()),
        }
        columns.update(meta_columns(meta, n))
        table = pa.table(columns)
        if state.schema is None:
            state.schema = table.schema
        elif table.schema != state.schema:
            table = conform(table, state.schema, split)
        self._splits[split] = state
        self._id_type = kind if n else self._id_type
        for row, id_ in enumerate(ids_arr.tolist(), start=len(state.index)):
            state.index[id_] = row
        state.buffer.append(table)
        state.buffered_rows += n
        if state.buffered_rows >= self.chunk_rows:
            flush_samples(self.staging, split, state)

    def _check_labels(self, labels: Any, n: int, split: str) -> list[str | None]:
        if labels is None:
            if not is_inference(split):
                raise ValidationError(f"The 'labels' parameter must be given for split '{split}'. Got None instead.")
            return [None] * n
        values = labels.tolist() if hasattr(labels, "tolist") else list(labels)
        check_same_length("labels", values, n, other="texts")
        names = [None if v is None else str(v) for v in values]
        unknown = sorted({v for v in names if v not in self._label_index}, key=str)
        if unknown:
            raise ValidationError(
                f"The 'labels' parameter must hold only the run's labels {examples(self.labels)}. "
                f"Got {len(unknown)} unknown labels ({examples(unknown)}) instead."
            )
        return names

    # ----------------------------------------------------------------- outputs
    def add_embeddings(self, *, ids: Any, embs: Any, split: str) -> None:
        """Store the embeddings of every sample of ``split`` once, for every epoch (dq.store.shared_embs);
        its outputs are then logged without ``embs``. After the split's samples, before its outputs."""
        self._check_open()
        split = check_split(split)
        state = self._splits.get(split)
        if state is None or not state.index:
            raise RunStateError(f"Embeddings of split '{split}' were logged before any of its samples.")
        if state.shared_embs or state.epochs:
            raise RunStateError(f"Split '{split}' already has embeddings: store them once, before any outputs.")
        ids_arr, _ = as_ids(ids, id_type=self._id_type)
        self._emb_dim = write_shared_embeddings(
            self.staging,
            ids=ids_arr,
            embs=embs,
            split=split,
            state=state,
            dim=self._emb_dim,
            chunk_rows=self.chunk_rows,
        )

    def add_outputs(
        self,
        *,
        ids: Any,
        embs: Any = None,
        logits: Any = None,
        probs: Any = None,
        split: str,
        epoch: int,
    ) -> None:
        """Validate and buffer model outputs for logged samples (see ``dq.log_model_outputs``); ``embs``
        is left out for a split whose embeddings were stored once (:meth:`add_embeddings`)."""
        self._check_open()
        split = check_split(split)
        epoch = as_non_negative_int(epoch, param="epoch")
        if (logits is None) == (probs is None):
            raise ValidationError(
                "Exactly one of the 'logits' and 'probs' parameters must be given. Got "
                f"{'both' if logits is not None else 'neither'} instead."
            )
        state = self._splits.get(split)
        if state is None or not state.index:
            raise RunStateError(
                f"Outputs for split '{split}' were logged before any of its samples; "
                f"call log_data_samples(split='{split}') first."
            )
        ids_arr, _ = as_ids(ids, id_type=self._id_type)
        n = len(ids_arr)
        rows = rows_of(ids_arr, state, split)
        width = len(self.labels)
        hint = f" (one per label of the run: {examples(self.labels, limit=3)})"
        kind = "logits" if logits is not None else "probs"
        scores = as_matrix(logits if logits is not None else probs, param=kind, n_rows=n, n_cols=width, cols_hint=hint)
        if kind == "probs":
            check_probs(scores)
        else:
            scores = softmax(scores)
        if (embs is None) != state.shared_embs:
            raise ValidationError(
                f"The 'embs' parameter must be {'left out' if state.shared_embs else 'given'} for split '{split}' "
                f"({'its embeddings are stored once' if state.shared_embs else 'no shared embeddings were stored'})."
            )
        embs_arr = None
        if embs is not None:
            embs_arr = as_matrix(
                embs, param="embs", n_rows=n, n_cols=self._emb_dim, cols_hint=" (the embedding size of earlier calls)"
            )
            if embs_arr.shape[1] == 0:
                raise ValidationError("The 'embs' parameter must have at least 1 column. Got 0 instead.")
        ep = state.epochs.setdefault(epoch, EpochState())
        if len(ep.seen) < len(state.index):
            ep.seen.extend(bytes(len(state.index) - len(ep.seen)))
        already = [i for i, r in zip(ids_arr.tolist(), rows.tolist()) if ep.seen[r]]
        if already:
            raise ValidationError(
                f"The 'ids' parameter must hold ids without outputs yet at epoch {epoch} of split "
                f"'{split}'. Got {len(already)} already logged ({examples(already)}) instead."
            )
        if len(np.unique(rows)) != n:
            raise ValidationError(
                f"The 'ids' parameter must hold unique ids. Got repeated ids ({examples(duplicated(ids_arr))}) instead."
            )
        for r in rows.tolist():
            ep.seen[r] = 1
        ep.n_seen += n
        self._output_kind = self._output_kind or kind
        columns = {
            "id": pa.array(ids_arr.tolist(), type=pa.int64() if self._id_type == "int" else pa.string()),
            "row": pa.array(rows, type=pa.int64()),
            "probs": fixed_list(scores),
        }
        if embs_arr is not None:
            self._emb_dim = embs_arr.shape[1]
            columns["emb"] = fixed_list(embs_arr)
        table = pa.table(columns)
        ep.buffer.append(table)
        ep.buffered_rows += n
        if ep.buffered_rows >= self.chunk_rows:
            flush_outputs(self.staging, split, epoch, ep)

    # ----------------------------------------------------------------- views
    def add_view(self, view: str, *, ids: Any, probs: Any, split: str, model: str = "") -> None:
        """Store an independent model's probabilities for every sample of ``split`` (see dq.store.views).

        One call per view and split, after that split's samples; ``model`` says what the view is.
        """
        self._check_open()
        view, split = check_view_name(view), check_split(split)
        state = self._splits.get(split)
        if state is None or not state.index:
            raise RunStateError(f"A view of split '{split}' was logged before any of its samples.")
        entry = self._views.setdefault(view, {"model": str(model), "splits": []})
        if split in entry["splits"]:
            raise ValidationError(f"The view '{view}' of split '{split}' was already logged.")
        ids_arr, _ = as_ids(ids, id_type=self._id_type)
        write_view(self.staging, view, ids=ids_arr, probs=probs, split=split, state=state, labels=self.labels)
        entry["splits"].append(split)

    # ----------------------------------------------------------------- finish
    def check_complete(self) -> None:
        """Raise ``ValidationError`` unless every logged sample has outputs at every epoch of its split."""
        if not any(s.index for s in self._splits.values()):
            raise ValidationError("No samples were logged: a run needs at least one split with samples.")
        for split, state in self._splits.items():
            problem = incompleteness(split, state)
            if problem:
                raise ValidationError(problem)

    def coverage(self) -> dict[str, tuple[int, dict[int, int]]]:
        """Each logged split's sample count and, per epoch logged so far, how many have outputs."""
        return {
            split: (len(state.index), {epoch: ep.n_seen for epoch, ep in sorted(state.epochs.items())})
            for split, state in self._splits.items()
        }

    def discard_epoch(self, split: str, epoch: int) -> None:
        """Forget the outputs logged for ``split`` at ``epoch`` (a partly logged epoch left out of the run)."""
        self._check_open()
        state = self._splits.get(split)
        if state is not None and state.epochs.pop(epoch, None) is not None:
            shutil.rmtree(layout.outputs_dir(self.staging, split, epoch), ignore_errors=True)

    def finish(self) -> Path:
        """Check completeness, write the last parts and ``run.json``, and move the run into place."""
        self._check_open()
        self.check_complete()
        for split, state in self._splits.items():
            flush_samples(self.staging, split, state)
            for epoch, ep in state.epochs.items():
                flush_outputs(self.staging, split, epoch, ep)
        meta = seal(self.staging, self._run_json(), exclude=(layout.IN_PROGRESS,))
        tmp = self.staging / (layout.RUN_JSON + ".tmp")
        tmp.write_text(json.dumps(meta, indent=2, ensure_ascii=False))
        os.replace(tmp, self.staging / layout.RUN_JSON)
        (self.staging / layout.IN_PROGRESS).unlink()
        layout.move_into_place(self.staging, self.target, overwrite=self.overwrite)
        self._finished = True
        return self.target

    def abort(self) -> None:
        """Delete everything written so far (used when the producer fails)."""
        if not self._finished:
            shutil.rmtree(self.staging, ignore_errors=True)
            self._finished = True

    def _run_json(self) -> dict[str, Any]:
        splits: dict[str, dict[str, Any]] = {
            split: {
                "n_samples": len(state.index),
                "epochs": sorted(state.epochs),
                "meta_columns": list(state.schema.names[3:]) if state.schema else [],
                **({"embeddings": "shared"} if state.shared_embs else {}),
            }
            for split in ordered_splits(self._splits)
            if (state := self._splits.get(split)) is not None and state.index
        }
        return {
            "schema_version": RUN_SCHEMA_VERSION,
            "task": layout.TASK,
            "project": self.project,
            "run": self.run,
            "labels": self.labels,
            "splits": splits,
            "epochs": sorted({e for s in splits.values() for e in s["epochs"]}),
            "n_samples": sum(s["n_samples"] for s in splits.values()),
            "embedding_dim": self._emb_dim,
            "id_type": self._id_type,
            "outputs_logged_as": self._output_kind,
            "training_outputs": self.training_outputs,
            **({"views": self._views} if self._views else {}),
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "dq_version": VERSION,
            "source": self.extra,
        }

    def _check_open(self) -> None:
        if self._finished:
            raise RunStateError("This run is already finished; start a new one with dq.init().")
