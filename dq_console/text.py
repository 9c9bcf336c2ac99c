"""Small wording helpers shared by the console's pages."""

from __future__ import annotations


def plural(n: int, word: str) -> str:
    """``"1 sample"``, ``"1,204 samples"``: a count with its noun (English plural in -s).

    >>> plural(1, "edit"), plural(2_000, "edit")
    ('1 edit', '2,000 edits')
    """
    return f"{n:,} {word}{'' if n == 1 else 's'}"
