"""Reading what ``dataquality.log_dataset`` accepts: a pandas DataFrame, a Hugging Face
``datasets.Dataset``, or an iterable of dicts or of tuples, with the text, id and label found by
column name (or position, for tuples); ``meta`` names the columns kept as metadata, nothing else is.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from dq._util.validate import plain
from dq.errors import ValidationError


@dataclass
class Batch:
    """Columns of a batch of samples read from a dataset."""

    texts: list[Any]
    ids: list[Any]
    labels: list[Any] | None
    meta: dict[str, list[Any]] | None


def _scalar(value: Any) -> Any:
    value = plain(value)
    return value.item() if hasattr(value, "item") and getattr(value, "ndim", 1) == 0 else value


def batches(
    dataset: Any, *, text: Any, id: Any, label: Any, meta: list[Any] | None, batch_size: int, class_names: Any = None
) -> Iterator[Batch]:
    """Yield the dataset in batches of at most ``batch_size`` rows.

    ``label`` None (or a column the data lacks, for inference) gives batches without labels. A Hugging
    Face ``ClassLabel`` column's integers are given as its names; ``class_names`` receives those names
    (a callable) when the dataset has them.
    """
    import pandas as pd

    if isinstance(dataset, dict):
        raise ValidationError(
            "The 'dataset' parameter must be a DataFrame, a Hugging Face Dataset or an iterable of rows; a dict "
            "of columns is not one: pass pd.DataFrame(your_dict), or use log_data_samples(texts=..., ids=...)."
        )
    meta = list(meta or [])
    if isinstance(dataset, pd.DataFrame):
        yield from _frame_batches(dataset, text=text, id=id, label=label, meta=meta, batch_size=batch_size)
        return
    if hasattr(dataset, "features") and hasattr(dataset, "column_names"):
        yield from _hf_batches(
            dataset, text=text, id=id, label=label, meta=meta, batch_size=batch_size, names=class_names
        )
        return
    if isinstance(dataset, (str, bytes)) or not hasattr(dataset, "__iter__"):
        raise ValidationError(
            "The 'dataset' parameter must be a pandas DataFrame, a Hugging Face Dataset or an iterable of dicts "
            f"or tuples. Got {type(dataset).__name__} instead."
        )
    rows: list[Any] = []
    for row in dataset:
        rows.append(row)
        if len(rows) == batch_size:
            yield _rows_batch(rows, text=text, id=id, label=label, meta=meta)
            rows = []
    if rows:
        yield _rows_batch(rows, text=text, id=id, label=label, meta=meta)


def _require(columns: list[Any], wanted: list[tuple[str, Any]]) -> None:
    missing = [(param, column) for param, column in wanted if column is not None and column not in columns]
    if missing:
        named = ", ".join(f"{param}={column!r}" for param, column in missing)
        raise ValidationError(f"The dataset must have the column(s) named by {named}. Got columns {columns} instead.")


def _frame_batches(frame: Any, *, text: Any, id: Any, label: Any, meta: list[Any], batch_size: int) -> Iterator[Batch]:
    columns = list(frame.columns)
    label = label if label in columns else None
    _require(columns, [("text", text), ("id", id), *(("meta", m) for m in meta)])
    for start in range(0, len(frame), batch_size):
        part = frame.iloc[start : start + batch_size]
        yield Batch(
            texts=part[text].tolist(),
            ids=part[id].tolist(),
            labels=part[label].tolist() if label is not None else None,
            meta={str(m): part[m].tolist() for m in meta} or None,
        )


def _hf_batches(
    dataset: Any, *, text: Any, id: Any, label: Any, meta: list[Any], batch_size: int, names: Any
) -> Iterator[Batch]:
    columns = list(dataset.column_names)
    if id not in columns:
        raise ValidationError(
            f"The dataset must have an {id!r} column of sample ids. Got columns {columns} instead: add one with "
            "dataset.map(lambda row, i: {'id': i}, with_indices=True)."
        )
    _require(columns, [("text", text), *(("meta", m) for m in meta)])
    label = label if label in columns else None
    feature = dataset.features.get(label) if label is not None else None
    class_names = list(feature.names) if feature is not None and hasattr(feature, "names") else None
    if class_names and names is not None:
        names(class_names)
    for start in range(0, len(dataset), batch_size):
        part = dataset[start : start + batch_size]
        labels = part[label] if label is not None else None
        if labels is not None and class_names:
            labels = [class_names[v] if v is not None and 0 <= v < len(class_names) else v for v in labels]
        yield Batch(
            texts=list(part[text]),
            ids=[_scalar(v) for v in part[id]],
            labels=labels,
            meta={str(m): list(part[m]) for m in meta} or None,
        )


def _rows_batch(rows: list[Any], *, text: Any, id: Any, label: Any, meta: list[Any]) -> Batch:
    def get(row: Any, key: Any) -> Any:
        try:
            return _scalar(row[key])
        except (KeyError, IndexError, TypeError):
            raise ValidationError(
                f"Each row of the dataset must have {key!r} (named by text=, id=, label= or meta=). "
                f"Got a row without it: {str(row)[:120]!r}."
            ) from None

    has_label = label is not None and all(_has(row, label) for row in rows)
    return Batch(
        texts=[str(get(row, text)) for row in rows],
        ids=[get(row, id) for row in rows],
        labels=[get(row, label) for row in rows] if has_label else None,
        meta={str(m): [get(row, m) for row in rows] for m in meta} or None,
    )


def _has(row: Any, key: Any) -> bool:
    try:
        row[key]
    except (KeyError, IndexError, TypeError):
        return False
    return True
