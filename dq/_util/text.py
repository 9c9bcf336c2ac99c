"""Text helpers shared by error messages and summaries."""

from __future__ import annotations

import re
from collections.abc import Iterable

from dq.errors import DQError

#: What looks like an API key or a bearer token, whoever's it is (OpenAI-style ``sk-...`` keys,
#: also when an upstream error masked part of them with ``*``).
_KEY_LIKE = re.compile(r"\b(sk|pk|rk)-[A-Za-z0-9_\-*]{6,}|(?i:bearer)\s+[A-Za-z0-9._\-*]{8,}")
#: The password (and user) of a URL: ``https://user:secret@host``.
_URL_USERINFO = re.compile(r"(?<=://)[^/@\s]+@")
REDACTED = "[redacted]"


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


def redact(text: object, secrets: Iterable[str | None] = ()) -> str:
    """``text`` with every secret in ``secrets``, anything shaped like an API key or bearer token,
    and the credentials of URLs replaced by ``[redacted]`` (for errors and log lines).

    >>> redact("Incorrect API key provided: sk-test-SECRET123. Retry at https://u:pw@host/v1", ["SECRET123"])
    'Incorrect API key provided: [redacted]. Retry at https://[redacted]@host/v1'
    """
    out = _KEY_LIKE.sub(REDACTED, str(text))
    for secret in secrets:
        if secret and len(secret) >= 4:
            out = out.replace(secret, REDACTED)
    return _URL_USERINFO.sub(REDACTED + "@", out)
