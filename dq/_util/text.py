"""Text helpers shared by error messages and summaries."""

from __future__ import annotations

from dq.errors import DQError


def one_line(text: object) -> str:
    """``text`` as one line: every run of whitespace (newlines included) becomes one space.

    >>> one_line("a\\n  b\\tc ")
    'a b c'
    """
    return " ".join(str(text).split())


def error_line(exc: BaseException) -> str:
    """One line saying what went wrong: a dq error's own message, else ``Type: first line``.

    >>> error_line(ValueError("bad value\\nmore detail"))
    'ValueError: bad value'
    """
    text = next((line.strip() for line in str(exc).splitlines() if line.strip()), "")
    if isinstance(exc, DQError):
        return text or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
