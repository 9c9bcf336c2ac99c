"""The vocabulary of the edits cart: the actions, one change to one sample, and the run key."""

from __future__ import annotations

import getpass
from dataclasses import dataclass

from dq.store.reader import Run

RELABEL = "relabel"
REMOVE = "remove"
EDIT_TEXT = "edit_text"
SEND_TO_LABELERS = "send_to_labelers"

#: Every action a change can carry.
ACTIONS: tuple[str, ...] = (RELABEL, REMOVE, EDIT_TEXT, SEND_TO_LABELERS)

#: The field of a sample each action sets; per sample and field the latest active edit wins.
FIELDS: dict[str, str] = {RELABEL: "label", EDIT_TEXT: "text", REMOVE: "removed", SEND_TO_LABELERS: "review"}

#: Author recorded when the local user name cannot be found.
UNKNOWN_AUTHOR = "unknown"


@dataclass(frozen=True)
class Change:
    """One change to one sample, before it is stored.

    ``sample_id`` is the sample's id as text (``str(id)``; the run's ``id_type`` tells how to
    convert it back). ``old_value``/``new_value`` hold the label (relabel) or the text
    (edit_text) before and after; they are None for remove and send_to_labelers.

    >>> Change(7, "relabel", "billing", "login").sample_id
    '7'
    """

    sample_id: str
    action: str
    old_value: str | None = None
    new_value: str | None = None

    def __post_init__(self) -> None:
        # Ids arrive as ints or numpy scalars from frames; the cart keys every run by text.
        if not isinstance(self.sample_id, str):
            object.__setattr__(self, "sample_id", str(self.sample_id))


def run_key(run: Run) -> str:
    """The key of a run in the cart: ``"<project>/<run name>"``."""
    return f"{run.project}/{run.name}"


def default_author() -> str:
    """The local user name, or ``"unknown"`` when the system cannot tell."""
    try:
        return getpass.getuser() or UNKNOWN_AUTHOR
    except (KeyError, OSError):
        return UNKNOWN_AUTHOR
