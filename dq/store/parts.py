"""The pieces a RunWriter writes with: per-split and per-epoch buffers, Parquet parts, id and metadata checks."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from dq._util.validate import check_same_length, duplicated, examples
from dq.errors import ValidationError
from dq.store import layout

#: Columns of a samples part that metadata may not take.
RESERVED_COLUMNS = ("id", "text", "label", "split")


@dataclass
class SplitState:
    """What the writer knows about one split while logging."""

    index: dict[Any, int] = field(default_factory=dict)  # id -> row in the split, in logging order
    buffer: list[pa.Table] = field(default_factory=list)
    buffered_rows: int = 0
    parts: int = 0
    schema: pa.Schema | None = None
    epochs: dict[int, EpochState] = field(default_factory=dict)
    shared_embs: bool = False  # the embeddings are stored once for every epoch (embeddings/<split>/)


@dataclass
class EpochState:
    """Outputs logged for one split at one epoch."""

    seen: bytearray = field(default_factory=bytearray)  # 1 per row once its outputs are logged
    n_seen: int = 0
    buffer: list[pa.Table] = field(default_factory=list)
    buffered_rows: int = 0
    parts: int = 0


def fixed_list(matrix: np.ndarray) -> pa.FixedSizeListArray:
    flat = pa.array(np.ascontiguousarray(matrix, dtype=np.float32).ravel(), type=pa.float32())
    return pa.FixedSizeListArray.from_arrays(flat, matrix.shape[1])


def write_parquet(table: pa.Table, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Dictionary encoding only pays off on strings; on float columns Parquet tries it, gives up
    # and has wasted the time (a third of logging 1M samples).
    strings = [f.name for f in table.schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)]
    pq.write_table(table, path, compression="zstd", use_dictionary=strings or False)


def check_new_ids(ids: np.ndarray, state: SplitState, split: str) -> None:
    dups = duplicated(ids)
    if dups:
        raise ValidationError(
            f"The 'ids' parameter must hold unique ids. Got {len(dups)} ids repeated within "
            f"this call ({examples(dups)}) instead."
        )
    again = [i for i in ids.tolist() if i in state.index]
    if again:
        raise ValidationError(
            f"The 'ids' parameter must hold ids not yet logged in split '{split}'. "
            f"Got {len(again)} already logged ({examples(again)}) instead."
        )


def meta_columns(meta: dict[str, Any] | None, n: int) -> dict[str, pa.Array]:
    if meta is None:
        return {}
    if not isinstance(meta, dict):
        raise ValidationError(
            f"The 'meta' parameter must be a dict of column name to values. Got {type(meta).__name__} instead."
        )
    columns = {}
    for name, values in meta.items():
        if not isinstance(name, str) or name in RESERVED_COLUMNS:
            raise ValidationError(
                f"The 'meta' parameter must use string column names other than "
                f"{list(RESERVED_COLUMNS)}. Got {name!r} instead."
            )
        values = values.tolist() if hasattr(values, "tolist") else list(values)
        check_same_length(f"meta[{name!r}]", values, n, other="texts")
        try:
            columns[name] = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise ValidationError(f"The 'meta[{name!r}]' values must be of one scalar type. Got: {exc}") from None
    return columns


def conform(table: pa.Table, schema: pa.Schema, split: str) -> pa.Table:
    if set(table.schema.names) != set(schema.names):
        raise ValidationError(
            f"The 'meta' parameter must hold the same columns in every call for split "
            f"'{split}' ({schema.names[3:]}). Got {table.schema.names[3:]} instead."
        )
    try:
        return table.select(schema.names).cast(schema)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        raise ValidationError(
            f"The 'meta' parameter must keep each column's type across calls for split "
            f"'{split}' ({schema}). Got {table.schema} instead."
        ) from None


def rows_of(ids: np.ndarray, state: SplitState, split: str) -> np.ndarray:
    index = state.index
    rows = [index.get(i, -1) for i in ids.tolist()]
    missing = [i for i, r in zip(ids.tolist(), rows) if r < 0]
    if missing:
        raise ValidationError(
            f"The 'ids' parameter must hold ids logged with log_data_samples in split "
            f"'{split}'. Got {len(missing)} ids never logged ({examples(missing)}) instead."
        )
    return np.asarray(rows, dtype=np.int64)


def flush_samples(staging: Path, split: str, state: SplitState) -> None:
    """Write the split's buffered samples as its next part."""
    if not state.buffer:
        return
    write_parquet(pa.concat_tables(state.buffer), layout.samples_dir(staging, split) / layout.part_name(state.parts))
    state.parts += 1
    state.buffer, state.buffered_rows = [], 0


def flush_outputs(staging: Path, split: str, epoch: int, ep: EpochState) -> None:
    """Write the outputs buffered for ``split`` at ``epoch`` as their next part."""
    if not ep.buffer:
        return
    write_parquet(pa.concat_tables(ep.buffer), layout.outputs_dir(staging, split, epoch) / layout.part_name(ep.parts))
    ep.parts += 1
    ep.buffer, ep.buffered_rows = [], 0


def rows_covering(ids: np.ndarray, state: SplitState, split: str, *, what: str) -> np.ndarray:
    """The rows of ``ids``, which must name every sample of ``split`` once (``what`` they are of)."""
    n = len(state.index)
    rows = rows_of(ids, state, split)
    if len(ids) != n or len(np.unique(rows)) != len(rows):
        dups = duplicated(ids)
        got = f"{len(dups)} repeated ids ({examples(dups)})" if dups else f"{len(ids)} ids"
        raise ValidationError(
            f"The 'ids' parameter of {what} must hold every sample of split '{split}' once ({n}). Got {got} instead."
        )
    return rows


def incompleteness(split: str, state: SplitState) -> str | None:
    """Why the logged split is not complete (an epoch without outputs for every sample), or None."""
    n = len(state.index)
    if not state.epochs:
        return (
            f"Split '{split}' has {n} samples with no outputs: log outputs with "
            f"log_model_outputs(split='{split}', epoch=...) for every sample before finish."
        )
    for epoch, ep in sorted(state.epochs.items()):
        if ep.n_seen != n:
            seen = ep.seen.ljust(n, b"\0")
            ids = list(state.index)
            missing = [ids[r] for r in range(n) if not seen[r]]
            return (
                f"Epoch {epoch} of split '{split}' is missing outputs for {len(missing)} of "
                f"{n} samples ({examples(missing)}); every epoch must cover every sample."
            )
    return None
