"""Building changes for the cart from what the user sees now.

Every builder takes ``current``: the split's samples with the active edits applied (see
``dq.edits.apply.current_samples``), so a change's ``old_value`` is the value on screen. Builders
only compute; ``EditsCart.add`` stores. A builder returns no change for a sample that already
holds the requested value, so its result is also the preview of what an action would do.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from dq._util.regex import regex_sub
from dq._util.validate import examples
from dq.edits.model import EDIT_TEXT, RELABEL, REMOVE, SEND_TO_LABELERS, Change
from dq.errors import ValidationError

#: Special targets of ``relabel``: the model's prediction, or the insights' suggested label.
PREDICTION = "prediction"
SUGGESTED = "suggested"
#: Modes of ``auto_fix`` (and of ``dq export --auto-fix``).
AUTO_FIX_MODES: tuple[str, ...] = (RELABEL, REMOVE)


def relabel(
    current: pd.DataFrame, ids: Iterable[object], *, to: str, insights: pd.DataFrame | None = None
) -> list[Change]:
    """Relabel the samples ``ids`` to the label ``to``, to their prediction (``to="prediction"``)
    or to their suggested label (``to="suggested"``; samples without a confident suggestion are
    skipped). ``insights`` (an insights frame: id, pred, suggested_label) is needed for the latter
    two. Samples already holding the target label are skipped.

    >>> current = pd.DataFrame({"id": [1, 2], "text": ["a", "b"], "label": ["x", "y"]})
    >>> relabel(current, [1, 2], to="y")
    [Change(sample_id='1', action='relabel', old_value='x', new_value='y')]
    """
    if not isinstance(to, str) or not to:
        raise ValidationError(f"The 'to' parameter must be a label name, {PREDICTION!r} or {SUGGESTED!r}. Got {to!r}.")
    rows = _select(current, ids)
    if to in (PREDICTION, SUGGESTED):
        if insights is None:
            raise ValidationError(f"relabel(to={to!r}) needs the 'insights' parameter (an insights frame). Got None.")
        column = "pred" if to == PREDICTION else "suggested_label"
        targets = _select(insights, rows["id"], param="insights", must="hold a row for every selected sample")[
            column
        ].tolist()
    else:
        targets = [to] * len(rows)
    return [
        Change(key, RELABEL, old, new)
        for key, old, new in zip(rows["id"], rows["label"], targets)
        if isinstance(new, str) and new != old
    ]


def remove(current: pd.DataFrame, ids: Iterable[object]) -> list[Change]:
    """Remove the samples ``ids`` from the fixed dataset (those removed already are skipped)."""
    return _flag(current, ids, REMOVE, "removed")


def send_to_labelers(current: pd.DataFrame, ids: Iterable[object]) -> list[Change]:
    """Mark the samples ``ids`` for review by human labelers (those marked already are skipped)."""
    return _flag(current, ids, SEND_TO_LABELERS, "review")


def edit_text(current: pd.DataFrame, sample_id: object, text: str) -> list[Change]:
    """Replace the text of one sample; an unchanged text gives no change, a blank one is refused.

    >>> current = pd.DataFrame({"id": ["a"], "text": ["helo"], "label": ["x"]})
    >>> edit_text(current, "a", "hello")
    [Change(sample_id='a', action='edit_text', old_value='helo', new_value='hello')]
    """
    if not isinstance(text, str) or not text.strip():
        raise ValidationError(f"The 'text' parameter must be a non-empty string. Got {text!r} instead.")
    row = _select(current, [sample_id])
    old = row["text"].iloc[0]
    return [] if text == old else [Change(row["id"].iloc[0], EDIT_TEXT, old, text)]


def find_replace(
    current: pd.DataFrame, ids: Iterable[object], find: str, replace: str, *, regex: bool = False
) -> list[Change]:
    """Replace ``find`` by ``replace`` in the texts of ``ids``: one text edit per text that changes.

    With ``regex=True``, ``find`` is a regular expression (RE2 syntax, run in linear time: no
    look-arounds or back-references) and ``replace`` may refer to its groups (``\\1``). The
    returned changes are the preview: old and new text side by side.

    >>> current = pd.DataFrame({"id": [1, 2], "text": ["colour", "red"], "label": ["x", "x"]})
    >>> [c.new_value for c in find_replace(current, [1, 2], "colou?r", "color", regex=True)]
    ['color']
    """
    if not isinstance(find, str) or not find:
        raise ValidationError(f"The 'find' parameter must be a non-empty string. Got {find!r} instead.")
    if not isinstance(replace, str):
        raise ValidationError(f"The 'replace' parameter must be a string. Got {replace!r} instead.")
    rows = _select(current, ids)
    old = rows["text"].tolist()
    if regex:
        new = regex_sub(find, replace, old, what="The 'find' pattern")
    else:
        new = [text.replace(find, replace) for text in old]
    changes = [Change(key, EDIT_TEXT, o, n) for key, o, n in zip(rows["id"], old, new) if n != o]
    emptied = [c.sample_id for c in changes if not c.new_value.strip()]  # type: ignore[union-attr]
    if emptied:
        raise ValidationError(
            f"Replacing {find!r} by {replace!r} would leave {len(emptied)} text(s) empty "
            f"(samples {examples(emptied)}); a sample needs a text."
        )
    return changes


def auto_fix(insights: pd.DataFrame, mode: str) -> list[Change]:
    """The tool's own fix for every likely-mislabeled sample (``is_mislabeled``) of an insights frame.

    ``mode="relabel"`` relabels each to its ``suggested_label``; samples without a confident
    suggestion are left unchanged (relabelling them to the model's argmax would often be wrong:
    on real crowd noise the argmax was right for only about a third of the wrong labels).
    ``mode="remove"`` removes every likely-mislabeled sample.

    >>> insights = pd.DataFrame({"id": [1, 2, 3], "label": ["x", "x", "y"],
    ...                          "is_mislabeled": [True, True, False], "suggested_label": ["y", None, None]})
    >>> [(c.sample_id, c.action, c.new_value) for c in auto_fix(insights, "relabel")]
    [('1', 'relabel', 'y')]
    >>> [c.sample_id for c in auto_fix(insights, "remove")]
    ['1', '2']
    """
    if mode not in AUTO_FIX_MODES:
        raise ValidationError(f"The 'mode' parameter must be one of {list(AUTO_FIX_MODES)}. Got {mode!r} instead.")
    flagged = insights[insights["is_mislabeled"].fillna(False).astype(bool)]
    if mode == REMOVE:
        return [Change(key, REMOVE) for key in flagged["id"]]
    return [
        Change(key, RELABEL, old, new)
        for key, old, new in zip(flagged["id"], flagged["label"], flagged["suggested_label"])
        if isinstance(new, str) and new != old
    ]


def _flag(current: pd.DataFrame, ids: Iterable[object], action: str, column: str) -> list[Change]:
    rows = _select(current, ids)
    done = rows[column].fillna(False).astype(bool) if column in rows else pd.Series(False, index=rows.index)
    return [Change(key, action) for key in rows.loc[~done, "id"]]


def _select(
    frame: pd.DataFrame, ids: Iterable[object], *, param: str = "ids", must: str = "name samples of this split"
) -> pd.DataFrame:
    """The rows of ``frame`` whose id (compared as text) is in ``ids``, in the order of ``ids``."""
    wanted = list(dict.fromkeys(str(i) for i in ids))
    positions = pd.Index(frame["id"].astype(str)).get_indexer(wanted)
    missing = [key for key, pos in zip(wanted, positions) if pos < 0]
    if missing:
        raise ValidationError(
            f"The '{param}' parameter must {must}. Got {len(missing)} unknown id(s): {examples(missing)}."
        )
    return frame.iloc[positions]
