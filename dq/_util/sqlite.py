"""Open an SQLite file of dq's (the edits cart, the cluster-title cache): WAL, a busy timeout, migrated schema.

One connection per operation, never shared across threads. The schema version is ``PRAGMA
user_version``: ``migrations[v]`` takes a file from version ``v`` to ``v + 1``, applied in order
inside one write transaction, so two processes never apply one twice. A file of a newer version
is refused, never downgraded.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from dq._util.sqlite_backup import (
    backup,
    backup_if_due,
    backups_of,
    check_integrity,
    damaged_message,
    seen_whole,
)
from dq.errors import DQError

#: Seconds between tries of the switch to WAL while another connection holds the new file.
LOCK_RETRY_S = 0.05


def user_version(db: Database) -> int:
    """The schema version written in the file (0 for a new one)."""
    return int(db.execute("PRAGMA user_version").fetchone()[0])


@contextmanager
def write_transaction(db: Database) -> Iterator[None]:
    """One write transaction that holds the write lock from its start (waits up to the busy timeout)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.rollback()
        raise
    db.commit()


@contextmanager
def open_database(
    path: Path,
    *,
    migrations: Sequence[Callable[[Database], None]],
    busy_timeout_s: float,
    what: str,
    error: type[DQError],
    backup_dir: Path | None = None,
    functions: Mapping[str, tuple[int, Callable[..., str | int | float | None]]] | None = None,
    verify: Callable[[sqlite3.Connection], str | None] | None = None,
) -> Iterator[Database]:
    """A connection to ``path`` at the newest schema (created, switched to WAL and migrated as needed), closed on exit.

    ``what`` names the file in errors ("an edits database"); a file that is not SQLite, is damaged
    (``PRAGMA quick_check``, see dq._util.sqlite_backup), or of a newer schema than
    ``len(migrations)``, raises ``error`` in one line. With ``backup_dir``, the file is backed up
    there before a migration and at least daily while in use. ``functions`` (name -> (number of
    arguments, callable)) are registered on the connection (deterministic) before anything runs;
    ``verify`` says what is wrong with the file's content (None when nothing), checked with the
    integrity check.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> steps = [lambda db: db.execute("CREATE TABLE t (x)")]
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "t.db"
    >>> with open_database(path, migrations=steps, busy_timeout_s=1, what="a test file", error=DQError) as db:
    ...     user_version(db), db.journal_mode
    (1, 'wal')
    """
    if path.is_dir():
        raise error(f"{path} is a directory, not {what}: give the path of a file (created when missing).")
    path.parent.mkdir(parents=True, exist_ok=True)
    existed = path.exists() and path.stat().st_size > 0
    if path.exists() and not existed and backup_dir is not None and backups_of(path, backup_dir):
        # An empty file where a file with content was backed up: wiped, not new.
        raise error(damaged_message(path, "the file is empty", what=what, backup_dir=backup_dir))
    conn = sqlite3.connect(path, timeout=busy_timeout_s)
    whole = False
    try:
        for name, (n_args, function) in (functions or {}).items():
            conn.create_function(name, n_args, function, deterministic=True)
        db = Database(conn, execute_plugins=False)
        if existed:
            check_integrity(conn, path, what=what, error=error, backup_dir=backup_dir, verify=verify)
        _migrate(db, path, migrations, busy_timeout_s=busy_timeout_s, what=what, error=error, backup_dir=backup_dir)
        if existed and backup_dir is not None:
            backup_if_due(conn, path, backup_dir)
        yield db
        whole = True
    except sqlite3.OperationalError:
        raise  # locked, read-only, disk full: the caller says so
    except sqlite3.DatabaseError as exc:  # damage found while reading or writing
        raise error(damaged_message(path, str(exc), what=what, backup_dir=backup_dir)) from None
    finally:
        conn.close()
        if whole:
            seen_whole(path)


@contextmanager
def connection(path: Path, *, error: type[DQError], **options: Any) -> Iterator[Database]:
    """:func:`open_database` (``options`` as there) for one operation: a lock held past the busy
    timeout, a read-only file or a full disk is said in one line, as ``error``."""
    try:
        with open_database(path, error=error, **options) as db:
            yield db
    except sqlite3.OperationalError as exc:
        raise error(f"{path} cannot be used now: {exc}.") from None


def _migrate(
    db: Database,
    path: Path,
    migrations: Sequence[Callable[[Database], None]],
    *,
    busy_timeout_s: float,
    what: str,
    error: type[DQError],
    backup_dir: Path | None = None,
) -> None:
    try:
        version = user_version(db)
    except sqlite3.OperationalError:
        raise
    except sqlite3.DatabaseError as exc:
        raise error(f"{path} is not {what} ({exc}).") from None
    _check_version(version, path, len(migrations), what=what, error=error)
    if version == len(migrations):
        return  # the usual case: no write lock needed
    # Switching to WAL needs the file to itself, and SQLite answers "database is locked" at once,
    # without its busy handler, when connections race to do it on a new file: retry until the
    # busy timeout. The mode is persistent: only the first connection ever switches it.
    deadline = time.monotonic() + busy_timeout_s
    while True:
        try:
            db.enable_wal()
            break
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(LOCK_RETRY_S)
    if version >= 1 and backup_dir is not None:  # an existing file changes schema: keep it as it was
        backup(db.conn, path, backup_dir, reason=f"before-v{len(migrations)}")
    with write_transaction(db):
        # Another process may have migrated while this one waited for the lock: read again.
        version = user_version(db)
        _check_version(version, path, len(migrations), what=what, error=error)
        for migrate in migrations[version:]:
            migrate(db)
        # PRAGMA takes no parameters; the value is an integer of dq's own.
        db.execute(f"PRAGMA user_version = {len(migrations):d}")


def _check_version(version: int, path: Path, newest: int, *, what: str, error: type[DQError]) -> None:
    if version > newest:
        raise error(
            f"{path} is {what} of schema version {version}; this dq knows versions up to {newest}. "
            "Upgrade dq to use it."
        )
