"""Content hashes of finished runs (blake2b over every data file, in path order)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from dq.store.layout import CACHE_DIR

_BLOCK = 1 << 23  # 8 MiB reads keep hashing a multi-GB run at disk speed without holding it in memory


def content_hash(run_dir: Path, *, exclude: tuple[str, ...] = ()) -> str:
    """Hash the relative paths and bytes of every file below ``run_dir`` (except ``exclude``).

    The cache directory (``layout.CACHE_DIR``) is derived data and never hashed.

    >>> import tempfile; d = Path(tempfile.mkdtemp())
    >>> _ = (d / "a").write_text("x"); content_hash(d).startswith("blake2b:")
    True
    """
    digest = hashlib.blake2b(digest_size=16)
    for path in sorted(p for p in run_dir.rglob("*") if p.is_file()):
        rel = path.relative_to(run_dir).as_posix()
        if rel in exclude or rel.split("/", 1)[0] == CACHE_DIR:
            continue
        digest.update(rel.encode() + b"\0")
        update_with_file(digest, path)
    return "blake2b:" + digest.hexdigest()


def update_with_file(digest: Any, path: Path) -> None:
    """Feed the bytes of ``path`` to ``digest`` (a hashlib object), in blocks."""
    with path.open("rb") as fh:
        while block := fh.read(_BLOCK):
            digest.update(block)
