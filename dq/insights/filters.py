"""Sample filters: the JSON-able description of a subset of a split's samples.

An alert carries the filter it stands for; the console applies the same filters (and puts them
in the URL). A filter is a dict of column -> condition, all conditions must hold:

- a scalar (str, int, float, bool): the column equals it;
- a list: the column is one of its values;
- ``{"min": a, "max": b}`` (either optional): ``a <= column <= b``;
- ``{"contains": s}`` / ``{"regex": r}`` (text columns): substring, case-insensitive / regular expression.

>>> import pandas as pd
>>> frame = pd.DataFrame({"label": ["a", "b", "a"], "dep": [0.9, 0.2, 0.4]})
>>> apply_filter(frame, {"label": "a", "dep": {"min": 0.5}}).tolist()
[True, False, False]
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from dq._util.regex import regex_mask
from dq.errors import ValidationError

SampleFilter = dict[str, Any]

RANGE_KEYS = frozenset({"min", "max"})
TEXT_KEYS = frozenset({"contains", "regex"})


def apply_filter(frame: pd.DataFrame, sample_filter: SampleFilter | None) -> pd.Series:
    """Boolean mask of the rows of ``frame`` that match every condition of ``sample_filter``
    (as SQL over a file: ``dq.insights.split_sql``)."""
    mask = pd.Series(True, index=frame.index)
    for column, condition in (sample_filter or {}).items():
        check_column(column, frame.columns)
        mask &= _condition_mask(frame[column], condition, column)
    return mask


def check_column(column: str, columns: Iterable[Any]) -> None:
    """Refuse a filter on a column the samples do not have, in one line naming the ones they do."""
    names = list(columns)
    if column not in names:
        raise ValidationError(
            f"The filter names column {column!r}, which the samples do not have "
            f"(columns: {', '.join(map(str, names))})."
        )


def check_condition(condition: Any, column: str) -> None:
    """Refuse a condition that is none of the forms a filter takes (see the module's docstring)."""
    if isinstance(condition, dict):
        keys = set(condition)
        if (keys and keys <= RANGE_KEYS) or (len(keys) == 1 and keys <= TEXT_KEYS):
            return
        raise ValidationError(
            f"The filter on {column!r} must be a value, a list, {{'min','max'}} or "
            f"{{'contains'|'regex'}}. Got {condition!r} instead."
        )


def _condition_mask(values: pd.Series, condition: Any, column: str) -> pd.Series:
    check_condition(condition, column)
    if isinstance(condition, dict):
        if set(condition) <= RANGE_KEYS:
            mask = pd.Series(True, index=values.index)
            if condition.get("min") is not None:
                mask &= values >= condition["min"]
            if condition.get("max") is not None:
                mask &= values <= condition["max"]
            return mask.fillna(False).astype(bool)
        text = values.fillna("").astype(str)
        if "contains" in condition:
            return text.str.contains(str(condition["contains"]), case=False, regex=False)
        # RE2, not pandas' backtracking matcher: a typed pattern answers in linear time or is refused.
        mask = regex_mask(text.tolist(), str(condition["regex"]), what=f"The regex filter on {column!r}")
        return pd.Series(mask, index=values.index)
    if isinstance(condition, (list, tuple, set, np.ndarray)):
        return values.isin(list(condition))
    return values == condition


def describe_filter(sample_filter: SampleFilter | None) -> str:
    """A short human-readable form of a filter, e.g. ``label = 'a' and dep >= 0.5``.

    >>> describe_filter({"label": ["a", "b"], "dep": {"min": 0.5}})
    "label in ['a', 'b'] and dep >= 0.5"
    """
    parts = []
    for column, condition in (sample_filter or {}).items():
        if isinstance(condition, dict):
            if "min" in condition and condition["min"] is not None:
                parts.append(f"{column} >= {condition['min']}")
            if "max" in condition and condition["max"] is not None:
                parts.append(f"{column} <= {condition['max']}")
            if "contains" in condition:
                parts.append(f"{column} contains {condition['contains']!r}")
            if "regex" in condition:
                parts.append(f"{column} matches /{condition['regex']}/")
        elif isinstance(condition, (list, tuple, set)):
            parts.append(f"{column} in {list(condition)!r}")
        else:
            parts.append(f"{column} = {condition!r}")
    return " and ".join(parts) or "all samples"
