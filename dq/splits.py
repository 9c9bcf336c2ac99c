"""The split vocabulary: the names a run may hold, in display order."""

from __future__ import annotations

import re
from collections.abc import Iterable

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


#: Between ``inference`` and the name of one of several inference sets in a split key
#: (``inference=prod_week_1``), as in the outputs' ``epoch=N`` directories.
INFERENCE_SEP = "="
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def inference_split(name: str | None) -> str:
    """The split key of the inference set ``name`` (``inference`` itself when no name is given).

    >>> inference_split("prod_week_1"), inference_split(None)
    ('inference=prod_week_1', 'inference')
    """
    if name is None or name == "":
        return INFERENCE
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValidationError(
            "The 'inference_name' parameter must be 1 to 64 letters, digits, '_', '.' or '-', starting with a "
            f"letter or digit. Got {name!r} instead."
        )
    return f"{INFERENCE}{INFERENCE_SEP}{name}"


def is_inference(split: str) -> bool:
    """Whether ``split`` holds inference data (unlabeled): ``inference`` or a named inference set."""
    return split == INFERENCE or split.startswith(INFERENCE + INFERENCE_SEP)


def is_split(value: object) -> bool:
    """Whether ``value`` is a split key a run may hold: one of :data:`SPLITS` or a named inference set.

    >>> is_split("test"), is_split("inference=week 1"), is_split("dev")
    (True, False, False)
    """
    if not isinstance(value, str):
        return False
    if value in SPLITS:
        return True
    prefix = INFERENCE + INFERENCE_SEP
    return value.startswith(prefix) and _NAME.fullmatch(value[len(prefix) :]) is not None


def ordered_splits(keys: Iterable[str]) -> list[str]:
    """The split keys a run holds in display order: :data:`SPLITS`, named inference sets after them by name."""
    keys = set(keys)
    return [s for s in SPLITS if s in keys] + sorted(k for k in keys if k not in SPLITS and is_split(k))


def split_title(split: str) -> str:
    """How a split key reads in a page: ``inference (prod_week_1)`` for a named inference set.

    >>> split_title("inference=prod_week_1")
    'inference (prod_week_1)'
    """
    if split.startswith(INFERENCE + INFERENCE_SEP):
        return f"{INFERENCE} ({split[len(INFERENCE) + 1 :]})"
    return split


def check_split(split: object, *, param: str = "split") -> str:
    """Return ``split`` if it is one of :data:`SPLITS` or a named inference set, else raise ``ValidationError``.

    >>> check_split("training")
    'training'
    """
    if not is_split(split):
        raise ValidationError(
            f"The '{param}' parameter must be one of {list(SPLITS)} (or 'inference=NAME'). Got {split!r} instead."
        )
    return str(split)


def normalize_split(value: str) -> str | None:
    """Map a split spelling found in a data file (``train``, ``dev``, ...) to its canonical name.

    Returns None for a spelling that is not known. A named inference set (``inference=week_1``)
    is kept as it is.

    >>> normalize_split(" Train "), normalize_split("inference=week_1")
    ('training', 'inference=week_1')
    """
    text = str(value).strip()
    if text.lower().startswith(INFERENCE + INFERENCE_SEP) and is_split(INFERENCE + text[len(INFERENCE) :]):
        return INFERENCE + text[len(INFERENCE) :]
    return _ALIASES.get(text.lower())
