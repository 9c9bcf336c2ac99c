"""Views: another model's probabilities for every sample of a split, stored beside the outputs.

A run's outputs are the probabilities of the model being trained, epoch by epoch. A view is one
more set of probabilities for the same samples from an independent model (dq auto's lexical
model: dq.auto.lexical), written once per split under ``views/<view>/<split>/``. DEP weighs each
view by how well it predicts the given labels (dq.insights.dep), so a weak view costs nothing.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from dq._util.validate import as_matrix, check_probs
from dq.errors import ValidationError
from dq.store import layout
from dq.store.parts import SplitState, fixed_list, rows_covering, write_parquet

#: A view's name: a short identifier (it names a directory of the run).
_VIEW_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")


def check_view_name(view: Any) -> str:
    """The view name if it is a short lowercase identifier, else a one-line error."""
    if not isinstance(view, str) or not _VIEW_NAME.fullmatch(view):
        raise ValidationError(
            f"The 'view' parameter must be a lowercase identifier of at most 32 characters "
            f"(letters, digits, '_'). Got {view!r} instead."
        )
    return view


def write_view(
    staging: Path, view: str, *, ids: np.ndarray, probs: Any, split: str, state: SplitState, labels: list[str]
) -> None:
    """Check that ``ids`` cover every sample of ``split`` once and write the view's part."""
    rows = rows_covering(ids, state, split, what="a view")
    matrix = as_matrix(probs, param="probs", n_rows=len(ids), n_cols=len(labels), cols_hint=" (one per label)")
    check_probs(matrix)
    id_type = pa.int64() if ids.dtype.kind in "iu" else pa.string()
    columns = {"id": pa.array(ids.tolist(), type=id_type), "row": pa.array(rows, type=pa.int64())}
    table = pa.table({**columns, "probs": fixed_list(matrix)})
    write_parquet(table, layout.view_dir(staging, view, split) / layout.part_name(0))
