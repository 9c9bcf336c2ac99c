"""Regular expressions a user types (the text filter, find & replace), run by RE2 in linear time.

Python's ``re`` backtracks: ``(a+)+$`` over a text of 28 "a"s and a "!" takes minutes, and a
console thread stuck in it stops answering every user. RE2 (``google-re2``) matches in time
linear in the text whatever the pattern, and refuses up front what it cannot run that way
(look-arounds, back-references) with a one-line error instead of running it slowly.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import re2

from dq.errors import ValidationError

#: Memory RE2 may use for one compiled pattern (its default is 8 MiB; a huge counted repetition
#: such as ``a{1000}{1000}`` is refused rather than built).
MAX_PATTERN_MEMORY = 64 << 20


def _options() -> Any:
    options = re2.Options()
    options.log_errors = False  # the refusal is ours to say, once, not RE2's on stderr
    options.max_mem = MAX_PATTERN_MEMORY
    return options


def compile_regex(pattern: str, *, what: str = "The regex") -> Any:
    """``pattern`` compiled by RE2, or a one-line :class:`ValidationError` that names ``what``.

    >>> bool(compile_regex("colou?r").search("my colour"))
    True
    >>> compile_regex("(a+)+$(?!x)")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    dq.errors.ValidationError: The regex must be a regular expression RE2 can run; '(a+)+$(?!x)' is not: ...
    """
    if not isinstance(pattern, str) or not pattern:
        raise ValidationError(f"{what} must be a non-empty string. Got {pattern!r} instead.")
    try:
        return re2.compile(pattern, _options())
    except re2.error as exc:
        reason = exc.args[0].decode(errors="replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        hint = ""
        if any(token in pattern for token in ("(?=", "(?!", "(?<", "\\1", "\\2", "(?P=")):
            hint = " (look-arounds and back-references are not supported: patterns run in linear time, on RE2)"
        raise ValidationError(
            f"{what} must be a regular expression RE2 can run; {pattern!r} is not: {reason}{hint}."
        ) from None


def regex_mask(texts: Iterable[str], pattern: str, *, what: str = "The regex") -> np.ndarray:
    """Which of ``texts`` contain a match of ``pattern`` (bool array), in linear time each.

    >>> regex_mask(["refund please", "where is my parcel"], r"\\brefund").tolist()
    [True, False]
    """
    compiled = compile_regex(pattern, what=what)
    return np.fromiter((compiled.search(text) is not None for text in texts), dtype=bool)


def regex_sub(pattern: str, replace: str, texts: Iterable[str], *, what: str = "The regex") -> list[str]:
    """Every match of ``pattern`` in each of ``texts`` replaced by ``replace`` (which may name the
    pattern's groups: ``\\1``, ``\\g<name>``).

    >>> regex_sub(r"(\\w+) (\\w+)", r"\\2 \\1", ["hello world"]), regex_sub("e", "é", ["cafe"])
    (['world hello'], ['café'])
    """
    compiled = compile_regex(pattern, what=what)
    # google-re2 reads the template's escapes through the 'unicode_escape' codec, which turns a
    # non-ASCII character into mojibake ("é" -> "Ã©"): hand it every such character as an escape.
    template = replace.encode("ascii", "backslashreplace").decode("ascii")
    try:
        return [compiled.sub(template, text) for text in texts]
    except (re2.error, IndexError, KeyError, ValueError) as exc:
        raise ValidationError(f"The replacement {replace!r} does not fit {pattern!r}: {exc}.") from None
