"""Applying the cart to a run's samples: what the user sees now, and the fixed dataset.

Runs are immutable; edits never touch them. The fixed dataset is computed from the run's samples
and the cart's active edits each time it is asked for.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from dq.edits import actions
from dq.edits.model import EDIT_TEXT, RELABEL, REMOVE, SEND_TO_LABELERS, Change, run_key
from dq.edits.store import EditsCart
from dq.errors import ValidationError
from dq.store.reader import Run

#: Prefix under which ``dq auto`` keeps a file column whose name is taken by a sample column.
_RENAMED_PREFIX = "meta_"
#: The sample columns of a run (``id``, ``text``, ``label``) and the split column of ``dq auto``.
_SAMPLE_COLUMNS = ("id", "text", "label", "split")
#: Boolean columns ``current_samples`` adds.
FLAG_COLUMNS = ("removed", "review")


@dataclass(frozen=True)
class FixedDataset:
    """A fixed dataset and what went into it (the counts are over the split's samples)."""

    frame: pd.DataFrame
    n_kept: int
    n_removed: int
    n_relabeled: int  # kept rows whose label differs from the run's
    n_text_edits: int  # kept rows whose text differs from the run's
    n_auto_fixed: int  # changes made by auto-fix, on samples the cart does not touch

    def describe(self) -> str:
        """One line for people: rows kept, removed, relabeled, text edits (and auto-fixes)."""
        line = (
            f"{self.n_kept:,} rows kept, {self.n_removed:,} removed, {self.n_relabeled:,} relabeled, "
            f"{self.n_text_edits:,} text edits"
        )
        return line + (f" ({self.n_auto_fixed:,} by auto-fix)" if self.n_auto_fixed else "")


def current_samples(run: Run, split: str, active: pd.DataFrame) -> pd.DataFrame:
    """``run.samples(split)`` with the ``active`` edits applied (``EditsCart.active``).

    Labels and texts hold their edited values; boolean columns ``removed`` and ``review`` mark the
    samples removed and sent to labelers (rows are kept, so a screen can show them). A metadata
    column already named ``removed`` or ``review`` is shown as ``meta_removed``/``meta_review``.
    Edits of ids the split does not hold are ignored.
    """
    samples = run.samples(split)
    samples = samples.rename(columns={c: f"{_RENAMED_PREFIX}{c}" for c in FLAG_COLUMNS if c in samples.columns})
    frame, removed, review = _apply(samples, active)
    return frame.assign(removed=removed, review=review)


def fix(
    run: Run,
    split: str,
    *,
    cart: EditsCart | None = None,
    auto_fix: str | None = None,
    insights: pd.DataFrame | None = None,
) -> FixedDataset:
    """The samples of ``split`` with the edits applied, removed rows dropped, in the run's row order,
    and the counts of what changed (``.frame``, ``.describe()``).

    The cart's active edits come first (``cart`` defaults to ``EditsCart()``, the one under the
    dq home). ``auto_fix`` ("relabel" or "remove", see ``dq.edits.actions.auto_fix``) then fixes
    the likely-mislabeled samples the cart does not touch at all: the user's explicit choice wins
    over the tool's. ``insights`` (the split's insights frame) defaults to
    ``dq.insights.split_insights(run, split).frame`` when auto-fix needs it.

    Columns are the original ones: for a run built by ``dq auto``, the text, label and id columns
    carry the names they had in the source file (a run built without ``--id-col`` keeps the row
    number as ``id``), the split column is added back under its name with the file's own split
    values (``train`` stays ``train``), and the other columns follow in their stored order; for a
    logged run, id, text, label and the metadata columns.

    Examples
    --------
    >>> frame = fix(Run("~/.dq/runs/demo/banking77"), "training",
    ...             auto_fix="relabel").frame            # doctest: +SKIP
    """
    if auto_fix is not None and auto_fix not in actions.AUTO_FIX_MODES:
        raise ValidationError(
            f"The 'auto_fix' parameter must be one of {list(actions.AUTO_FIX_MODES)} or None. Got {auto_fix!r} instead."
        )
    samples = run.samples(split)
    cart = cart if cart is not None else EditsCart()
    edits = cart.active(run_key(run), split)[["sample_id", "action", "new_value"]]
    auto: list[Change] = []
    if auto_fix is not None:
        if insights is None:
            from dq.insights import split_insights

            insights = split_insights(run, split).frame
        touched = set(edits["sample_id"])  # any explicit choice of the user wins over the tool's
        auto = [c for c in actions.auto_fix(insights, auto_fix) if c.sample_id not in touched]
        edits = pd.concat([edits, _edits_frame(auto)], ignore_index=True)
    frame, removed, _ = _apply(samples, edits)
    kept = ~removed
    return FixedDataset(
        frame=_original_columns(frame.loc[kept].reset_index(drop=True), run, split),
        n_kept=int(kept.sum()),
        n_removed=int(removed.sum()),
        n_relabeled=int((kept & _differs(frame["label"], samples["label"])).sum()),
        n_text_edits=int((kept & _differs(frame["text"], samples["text"])).sum()),
        n_auto_fixed=len(auto),
    )


def fix_all(
    run: Run,
    *,
    cart: EditsCart | None = None,
    auto_fix: str | None = None,
    insights: dict[str, pd.DataFrame] | None = None,
) -> FixedDataset:
    """Every split of the run fixed (as :func:`fix`) in one frame, split after split, counts summed.

    The frame is a drop-in replacement for the input file: for a ``dq auto`` run read with a split
    column, that column holds the file's own values; otherwise a ``split`` column names each row's
    split (when the run has more than one). ``insights`` maps a split to its insights frame.
    """
    cart = cart if cart is not None else EditsCart()
    parts = [
        fix(run, split, cart=cart, auto_fix=auto_fix, insights=(insights or {}).get(split)) for split in run.splits
    ]
    frames = [p.frame for p in parts]
    source = run.auto_source
    has_split_column = source is not None and bool((source.get("settings") or {}).get("split"))
    if len(frames) > 1 and not has_split_column:
        frames = [f.assign(split=split) for f, split in zip(frames, run.splits)]
    return FixedDataset(
        frame=pd.concat(frames, ignore_index=True),
        n_kept=sum(p.n_kept for p in parts),
        n_removed=sum(p.n_removed for p in parts),
        n_relabeled=sum(p.n_relabeled for p in parts),
        n_text_edits=sum(p.n_text_edits for p in parts),
        n_auto_fixed=sum(p.n_auto_fixed for p in parts),
    )


def labelers_frame(
    run: Run,
    split: str,
    *,
    cart: EditsCart | None = None,
    include_flagged: bool = False,
    insights: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The samples to send to human labelers: id, text, label, suggested_label, dep (highest DEP first).

    The samples the cart marks ``send_to_labelers``; with ``include_flagged`` also every
    likely-mislabeled sample. Texts and labels are the current ones (cart edits applied); samples
    the cart removed are left out.
    """
    cart = cart if cart is not None else EditsCart()
    if insights is None:
        from dq.insights import split_insights

        insights = split_insights(run, split).frame
    edits = cart.active(run_key(run), split)
    # Only the rows it can list are read into a frame (a split of millions stays in Arrow): those
    # the cart sends to labelers and, with include_flagged, the likely mislabeled.
    wanted = set(edits.loc[edits["action"] == SEND_TO_LABELERS, "sample_id"].astype(str))
    if include_flagged:
        wanted |= set(insights.loc[insights["is_mislabeled"].fillna(False).astype(bool), "id"].astype(str))
    table = run.samples_table(split, columns=["id", "text", "label"])
    keys = pc.cast(table.column("id"), pa.string())
    samples = table.filter(pc.is_in(keys, value_set=pa.array(sorted(wanted), type=pa.string()))).to_pandas()
    frame, removed, review = _apply(samples, edits)
    # Align by id, not by position: a caller may pass a filtered or reordered insights frame.
    found = insights.set_index(insights["id"].astype(str)).reindex(frame["id"].astype(str))
    flagged = found["is_mislabeled"].fillna(False).to_numpy(dtype=bool)
    frame = frame.assign(suggested_label=found["suggested_label"].to_numpy(), dep=found["dep"].to_numpy())
    frame = frame.loc[(review | (flagged & include_flagged)) & ~removed]
    return frame.sort_values("dep", ascending=False, kind="stable").reset_index(drop=True)


def _edits_frame(changes: list[Change]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "sample_id": [c.sample_id for c in changes],
            "action": [c.action for c in changes],
            "new_value": [c.new_value for c in changes],
        }
    )


def _apply(samples: pd.DataFrame, edits: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Samples with label and text edits applied, and the removed / review masks.

    ``edits`` holds at most one edit per sample and action (``EditsCart.active``).
    """
    frame = samples.copy()
    keys = frame["id"].astype(str)
    for action, column in ((RELABEL, "label"), (EDIT_TEXT, "text")):
        chosen = edits[edits["action"] == action].drop_duplicates("sample_id", keep="last")
        values = keys.map(pd.Series(chosen["new_value"].to_numpy(), index=chosen["sample_id"].to_numpy()))
        edited = values.notna().to_numpy()
        if edited.any():
            frame.loc[edited, column] = values[edited].to_numpy()

    def marked(action: str) -> np.ndarray:
        return keys.isin(edits.loc[edits["action"] == action, "sample_id"]).to_numpy()

    return frame, marked(REMOVE), marked(SEND_TO_LABELERS)


def _differs(a: pd.Series, b: pd.Series) -> np.ndarray:
    same = (a.to_numpy() == b.to_numpy()) | (a.isna().to_numpy() & b.isna().to_numpy())
    return ~same


def _original_columns(frame: pd.DataFrame, run: Run, split: str) -> pd.DataFrame:
    source = run.auto_source
    if source is None:
        return frame
    settings = source.get("settings") or {}
    names = {"text": settings["text"], "label": settings["label"]}
    if settings.get("id"):
        names["id"] = settings["id"]
    out = frame.rename(columns=names)
    if settings.get("split"):
        # The file's own spelling of the split ("train"), recorded by dq auto; canonical for older runs.
        spelled = (source.get("split_values") or {}).get(split, split)
        out.insert(out.columns.get_loc(names["label"]) + 1, settings["split"], spelled)
    # dq auto kept a file column named like a sample column as meta_<name>; give it its name back
    # where no output column holds that name now.
    restore = {}
    for column in frame.columns.difference(["id", "text", "label"], sort=False):
        original = column.removeprefix(_RENAMED_PREFIX)
        if original in _SAMPLE_COLUMNS and original != column and original not in out.columns:
            restore[column] = original
    return out.rename(columns=restore)
