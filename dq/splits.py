"""The split vocabulary: the names a run may hold, in display order."""

from __future__ import annotations

from dq.errors import ValidationError

TRAINING = "training"
VALIDATION = "validation"
TEST = "test"
INFERENCE = "inference"

#: Every split a run may hold, in the order the console shows them (training first).
SPLITS: tuple[str, ...] = (TRAINING, VALIDATION, TEST, INFERENCE)

#: Splits whose samples must carry a ground-truth label.
LABELED_SPLITS: tuple[str, ...] = (TRAINING, VALIDATION, TEST)

# Common spellings in users' files, mapped to the canonical name (dq auto --split-col).
_ALIASES: dict[str, str] = {
    "train": TRAINING,
    "training": TRAINING,
    "val": VALIDATION,
    "valid": VALIDATION,
    "validation": VALIDATION,
    "dev": VALIDATION,
    "test": TEST,
    "testing": TEST,
    "inference": INFERENCE,
}

#: Every spelling :func:`normalize_split` accepts (case and surrounding spaces are ignored).
SPELLINGS: tuple[str, ...] = tuple(_ALIASES)


def check_split(split: object, *, param: str = "split") -> str:
    """Return ``split`` if it is one of :data:`SPLITS`, else raise ``ValidationError``.

    >>> check_split("training")
    'training'
    """
    if not isinstance(split, str) or split not in SPLITS:
        raise ValidationError(f"The '{param}' parameter must be one of {list(SPLITS)}. Got {split!r} instead.")
    return split


def normalize_split(value: str) -> str | None:
    """Map a split spelling found in a data file (``train``, ``dev``, ...) to its canonical name.

    Returns None for a spelling that is not known.

    >>> normalize_split(" Train ")
    'training'
    """
    return _ALIASES.get(str(value).strip().lower())
