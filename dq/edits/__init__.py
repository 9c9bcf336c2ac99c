"""dq.edits: the edits cart (relabel, remove, edit text, send to labelers), undo, and the fixed dataset.

Example::

    from dq.edits import EditsCart, actions, current_samples, default_author, fix, run_key
    cart = EditsCart()                                          # $DQ_HOME/edits.db
    now = current_samples(run, "training", cart.active(run_key(run), "training"))
    batch = cart.add(run, "training", actions.relabel(now, [17, 42], to="login"), author=default_author())
    cart.undo_batch(batch)
    fix(run, "training", cart=cart, auto_fix="relabel").frame     # a DataFrame

Pure library: no streamlit. See docs/edits.md.
"""

from __future__ import annotations

from dq.edits import actions
from dq.edits.apply import FixedDataset, current_samples, fix, fix_all, labelers_frame
from dq.edits.model import ACTIONS, Change, default_author, run_key
from dq.edits.store import SCHEMA_VERSION, EditsCart

__all__ = [
    "ACTIONS",
    "SCHEMA_VERSION",
    "Change",
    "EditsCart",
    "FixedDataset",
    "actions",
    "current_samples",
    "default_author",
    "fix",
    "fix_all",
    "labelers_frame",
    "run_key",
]
