"""Embeddings stored once per split, for every epoch.

An integration logs a split's embeddings with every epoch's outputs, and they do change as the
model trains. dq auto's embeddings (the frozen sentence model's) do not: written with each epoch
they cost the run epochs times the disk (5 GB of 384-d vectors for 1M samples and 3 epochs). A
split whose embeddings are the same at every epoch stores them once under
``embeddings/<split>/`` (run.json: the split's ``"embeddings": "shared"``) and its outputs hold
the probabilities only; :class:`dq.store.Run` reads them for any epoch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from dq._util.validate import as_matrix
from dq.errors import ValidationError
from dq.store import layout
from dq.store.parts import SplitState, fixed_list, rows_covering, write_parquet


def write_shared_embeddings(
    staging: Path, *, ids: np.ndarray, embs: Any, split: str, state: SplitState, dim: int | None, chunk_rows: int
) -> int:
    """Check that ``ids`` cover every sample of ``split`` once and write their embeddings in parts of
    at most ``chunk_rows`` rows; return the embedding size."""
    n = len(state.index)
    rows = rows_covering(ids, state, split, what="shared embeddings")
    matrix = as_matrix(embs, param="embs", n_rows=n, n_cols=dim, cols_hint=" (the embedding size of earlier calls)")
    if matrix.shape[1] == 0:
        raise ValidationError("The 'embs' parameter must have at least 1 column. Got 0 instead.")
    id_type = pa.int64() if ids.dtype.kind in "iu" else pa.string()
    for part, start in enumerate(range(0, n, chunk_rows)):
        stop = start + chunk_rows
        table = pa.table(
            {
                "id": pa.array(ids[start:stop].tolist(), type=id_type),
                "row": pa.array(rows[start:stop], type=pa.int64()),
                "emb": fixed_list(matrix[start:stop]),
            }
        )
        write_parquet(table, layout.embeddings_dir(staging, split) / layout.part_name(part))
    state.shared_embs = True
    return int(matrix.shape[1])
