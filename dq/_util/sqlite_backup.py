"""Integrity checks and backups of dq's SQLite files (the edits cart above all).

A damaged cart must never be read as if it were whole: an export from one with a zeroed page
silently dropped half its relabels. :func:`check_integrity` runs SQLite's ``PRAGMA quick_check``
when a process first opens the file and again whenever the file changed since this process last
saw it whole (another process wrote it); a file that fails is refused in one line naming it and
its newest backup. :func:`backup_if_due` copies the file with SQLite's online backup API (a
consistent copy while others read and write) before every schema migration and at least once a day
while the file is in use, keeping the newest :data:`BACKUPS_KEPT`.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from dq._util.text import one_line
from dq.errors import DQError

#: Seconds between the daily backups of a file in use.
BACKUP_EVERY_S = 24 * 3600
#: Backups kept per file (the oldest are removed).
BACKUPS_KEPT = 7
#: What ``PRAGMA quick_check`` answers for a whole file.
_OK = "ok"

#: (size, mtime_ns) of a file and its WAL when this process last saw them whole, by path.
_seen_whole: dict[str, tuple[int, ...]] = {}


def _stamp(path: Path) -> tuple[int, ...]:
    stamp: list[int] = []
    for part in (path, path.with_name(path.name + "-wal")):
        try:
            st = part.stat()
            stamp += [st.st_size, st.st_mtime_ns]
        except FileNotFoundError:
            stamp += [-1, -1]
    return tuple(stamp)


def backups_of(path: Path, backup_dir: Path) -> list[Path]:
    """The backups of ``path`` in ``backup_dir``, newest first."""
    return sorted(backup_dir.glob(f"{path.stem}-*.db"), reverse=True)


def check_integrity(
    conn: sqlite3.Connection,
    path: Path,
    *,
    what: str,
    error: type[DQError],
    backup_dir: Path | None,
    verify: Callable[[sqlite3.Connection], str | None] | None = None,
) -> None:
    """Refuse ``path`` in one line (``error``) unless SQLite finds it whole and ``verify`` (the
    owner's check of the values, e.g. row checksums) finds nothing wrong; skipped when this process
    saw the file whole and nothing changed it since."""
    key = str(path.resolve())
    if _seen_whole.get(key) == _stamp(path):
        return
    try:
        rows = conn.execute("PRAGMA quick_check").fetchall()
    except sqlite3.OperationalError:
        raise  # locked past the busy timeout: not damage, said by the caller
    except sqlite3.DatabaseError as exc:
        if "not a database" in str(exc):
            raise error(f"{path} is not {what} ({one_line(exc)}).") from None
        rows = [(str(exc),)]
    found = [str(r[0]) for r in rows]
    if found != [_OK]:
        raise error(damaged_message(path, "; ".join(found[:2]), what=what, backup_dir=backup_dir))
    problem = verify(conn) if verify is not None else None
    if problem:
        raise error(damaged_message(path, problem, what=what, backup_dir=backup_dir))
    _seen_whole[key] = _stamp(path)


def seen_whole(path: Path) -> None:
    """Record that this process just left ``path`` whole (after its own write): no check at its next open."""
    _seen_whole[str(path.resolve())] = _stamp(path)


def damaged_message(path: Path, detail: str, *, what: str, backup_dir: Path | None) -> str:
    """One line: the file is damaged, why, and the newest backup to restore (docs/edits.md)."""
    newest = backups_of(path, backup_dir) if backup_dir is not None else []
    restore = (
        f"restore the newest backup {newest[0]} (copy it over {path.name}; see docs/edits.md)"
        if newest
        else "no backup of it exists"
    )
    return f"{path} ({what}) is damaged ({one_line(detail)}); {restore}."


def backup(conn: sqlite3.Connection, path: Path, backup_dir: Path, *, reason: str = "daily") -> Path:
    """A consistent copy of the open database in ``backup_dir`` (SQLite's online backup API);
    the oldest copies beyond :data:`BACKUPS_KEPT` are removed."""
    backup_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    target = backup_dir / f"{path.stem}-{stamp}-{reason}.db"
    tmp = target.with_suffix(".db.tmp")
    copy = sqlite3.connect(tmp)
    try:
        conn.backup(copy)
    finally:
        copy.close()
    tmp.replace(target)
    for old in backups_of(path, backup_dir)[BACKUPS_KEPT:]:
        old.unlink(missing_ok=True)
    return target


def backup_if_due(conn: sqlite3.Connection, path: Path, backup_dir: Path) -> Path | None:
    """Back ``path`` up when its newest backup is older than :data:`BACKUP_EVERY_S` (or missing)."""
    newest = backups_of(path, backup_dir)
    if newest and time.time() - newest[0].stat().st_mtime < BACKUP_EVERY_S:
        return None
    return backup(conn, path, backup_dir)
