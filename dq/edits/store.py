"""The edits cart: every relabel, removal, text edit and review request, kept in SQLite.

Rows are only ever added; undo stamps ``undone_at``. The effective state of a sample is, per
field (label, text, removed, review), its latest edit that is not undone. The console calls the
cart from many Streamlit threads and several processes may share one file, so every method opens
its own connection (WAL, a busy timeout) and closes it before returning; writes take the write
lock up front (``BEGIN IMMEDIATE``) so that two writers queue instead of failing.
"""

from __future__ import annotations

import functools
import hashlib
import sqlite3
import uuid
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from sqlite_utils import Database

from dq._util.sqlite import connection, write_transaction
from dq._util.validate import examples
from dq.config import dq_home
from dq.edits.model import ACTIONS, EDIT_TEXT, FIELDS, RELABEL, Change, run_key
from dq.errors import EditsDBError, ValidationError
from dq.store.reader import Run
from dq.team.users import EDIT, require_role

#: File name of the cart under the dq home.
DB_NAME = "edits.db"
#: Seconds a connection waits for another writer's lock before giving up.
BUSY_TIMEOUT_S = 10.0
#: Columns of ``history`` (and, with ``field``, of ``active``), in order.
EDIT_COLUMNS: tuple[str, ...] = (
    "edit_id",
    "run",
    "run_hash",
    "split",
    "sample_id",
    "action",
    "old_value",
    "new_value",
    "author",
    "created_at",
    "batch",
    "undone_at",
)
TABLE = "edits"
#: Backups of the cart go to this folder beside it (``$DQ_HOME/backups/``); see docs/edits.md.
BACKUP_DIR = "backups"
#: The columns ``add`` writes (``edit_id`` is assigned by SQLite).
_INSERTED = EDIT_COLUMNS[1:]


def _migrate_1(db: Database) -> None:
    db[TABLE].create(  # type: ignore[union-attr]
        {
            "edit_id": int,
            "run": str,
            "run_hash": str,
            "split": str,
            "sample_id": str,
            "action": str,
            "old_value": str,
            "new_value": str,
            "author": str,
            "created_at": str,
            "batch": str,
            "undone_at": str,
        },
        pk="edit_id",
        not_null={"run", "run_hash", "split", "sample_id", "action", "author", "created_at", "batch"},
    )
    db[TABLE].create_index(["run", "split"], index_name="edits_run_split")  # type: ignore[union-attr]
    db[TABLE].create_index(["batch"], index_name="edits_batch")  # type: ignore[union-attr]


#: The columns a row's checksum covers (every stored value, the edit id included).
_SEALED = ("edit_id", *EDIT_COLUMNS[1:])
#: SQL that computes a row's checksum (``dq_row_hash`` is registered on every connection).
ROW_HASH_SQL = f"dq_row_hash({', '.join(_SEALED)})"


def row_hash(*values: object) -> str:
    """The checksum of one edit row: blake2b of its values (None kept apart from any text).

    >>> row_hash(1, "a", None) == row_hash(1, "a", None) != row_hash(1, "a", "")
    True
    """
    text = "\x1e".join("\x00" if v is None else str(v) for v in values)
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def _migrate_2(db: Database) -> None:
    # A checksum per row: SQLite checks its pages' structure, not the values in them, and a
    # flipped byte in a label or an undo time would otherwise be read as a real edit.
    db.execute(f"ALTER TABLE {TABLE} ADD COLUMN checksum TEXT")
    db.execute(f"UPDATE {TABLE} SET checksum = {ROW_HASH_SQL}")


def _unsealed_rows(conn: sqlite3.Connection) -> str | None:
    """Which rows do not match their checksum (None when all do, or the file predates checksums)."""
    if int(conn.execute("PRAGMA user_version").fetchone()[0]) not in range(2, len(MIGRATIONS) + 1):
        return None  # before checksums, or a newer dq's file (refused by its version)
    bad = [r[0] for r in conn.execute(f"SELECT edit_id FROM {TABLE} WHERE checksum IS NOT {ROW_HASH_SQL} LIMIT 6")]
    if not bad:
        return None
    return f"edit(s) {examples(bad, limit=5)} do not match their checksum"


#: Migrations in order: ``MIGRATIONS[v]`` takes a database from schema version ``v`` to ``v + 1``.
MIGRATIONS: tuple[Callable[[Database], None], ...] = (_migrate_1, _migrate_2)
#: SQL functions every connection to the cart has.
FUNCTIONS: dict[str, tuple[int, Callable[..., str | int | float | None]]] = {"dq_row_hash": (len(_SEALED), row_hash)}
#: The schema version this dq writes (``PRAGMA user_version``).
SCHEMA_VERSION = len(MIGRATIONS)


def _reseal(db: Database, where: str, params: Sequence[object]) -> None:
    """Recompute the checksum of the rows just written (inside the writer's transaction)."""
    db.execute(f"UPDATE {TABLE} SET checksum = {ROW_HASH_SQL} WHERE {where}", list(params))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


class EditsCart:
    """The edits of every run, in one SQLite file (default ``$DQ_HOME/edits.db``).

    Examples
    --------
    >>> from dq.edits import EditsCart, Change, run_key     # doctest: +SKIP
    >>> cart = EditsCart()                                   # doctest: +SKIP
    >>> batch = cart.add(run, "training", [Change("17", "relabel", "billing", "login")],
    ...                  author="ana")                       # doctest: +SKIP
    >>> cart.active(run_key(run), "training")                # doctest: +SKIP
    >>> cart.undo_batch(batch)                               # doctest: +SKIP
    1
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = Path(path).expanduser() if path is not None else dq_home() / DB_NAME

    # --- connections ------------------------------------------------------------------------------

    def _connect(self) -> AbstractContextManager[Database]:
        """A fresh connection to an up-to-date schema, closed on exit."""
        return connection(
            self.path,
            migrations=MIGRATIONS,
            busy_timeout_s=BUSY_TIMEOUT_S,
            what="an edits database",
            error=EditsDBError,
            backup_dir=self.path.parent / BACKUP_DIR,
            functions=FUNCTIONS,
            verify=_unsealed_rows,
        )

    def _read(self, sql: str, params: Sequence[object]) -> pd.DataFrame:
        if not self.path.exists():  # reading never creates the file
            return pd.DataFrame(columns=list(EDIT_COLUMNS))
        with self._connect() as db:
            cursor = db.execute(sql, list(params))
            columns = [d[0] for d in cursor.description]
            frame = pd.DataFrame.from_records(cursor.fetchall(), columns=columns)
        return frame.drop(columns=["checksum"], errors="ignore")

    # --- writing ----------------------------------------------------------------------------------

    def add(self, run: Run, split: str, changes: Sequence[Change], *, author: str, by: str | None = None) -> str:
        """Store ``changes`` to samples of ``split`` of ``run`` as one batch; return the batch id.

        All rows are written in one transaction. Every sample must be one of the split's, actions
        one of ``ACTIONS``, a relabel's new value one of ``run.labels``, a text edit's new text
        non-blank. ``by``: who stores them when the author is someone else (labels pulled from
        Label Studio: the author is the annotator); in a team's home ``by`` (else the author) must
        be an editor of the run's project.
        """
        run.check_split(split)
        if not changes:
            raise ValidationError("The 'changes' parameter must hold at least one change. Got none.")
        if not isinstance(author, str) or not author.strip():
            raise ValidationError(f"The 'author' parameter must be a non-empty string. Got {author!r} instead.")
        for change in changes:
            _check_change(change, run.labels)
        self._require_edit(by if by is not None else author, [run.project])
        _check_samples_exist(run, split, changes)
        batch = uuid.uuid4().hex
        now = _now()
        key, content_hash = run_key(run), run.content_hash
        rows = [
            (key, content_hash, split, c.sample_id, c.action, c.old_value, c.new_value, author, now, batch, None)
            for c in changes
        ]
        # executemany, not Table.insert_all: a bulk action can add 100k edits, and insert_all's
        # per-batch type detection makes that four times slower.
        sql = f"INSERT INTO {TABLE} ({', '.join(_INSERTED)}) VALUES ({', '.join('?' * len(_INSERTED))})"
        with self._connect() as db, write_transaction(db):
            db.conn.executemany(sql, rows)
            _reseal(db, "batch = ?", [batch])
        return batch

    def undo(self, edit_id: int, *, author: str | None = None) -> None:
        """Undo one edit (a no-op if it is undone already). ``author``: who undoes it (in a team's
        home an editor of the edit's project; elsewhere unused)."""
        unknown = ValidationError(f"The 'edit_id' parameter must name an edit in {self.path}. Got {edit_id!r}.")
        if not self.path.exists():
            raise unknown
        self._require_edit(author, self._projects("edit_id = ?", [int(edit_id)]))
        with self._connect() as db, write_transaction(db):
            if db.execute(f"SELECT 1 FROM {TABLE} WHERE edit_id = ?", [int(edit_id)]).fetchone() is None:
                raise unknown
            db.execute(
                f"UPDATE {TABLE} SET undone_at = ? WHERE edit_id = ? AND undone_at IS NULL", [_now(), int(edit_id)]
            )
            _reseal(db, "edit_id = ?", [int(edit_id)])

    def undo_batch(self, batch: str, *, author: str | None = None) -> int:
        """Undo every edit of one batch (one user action); return how many were not undone before.
        ``author`` as for :meth:`undo`."""
        unknown = ValidationError(f"The 'batch' parameter must name a batch in {self.path}. Got {batch!r}.")
        if not self.path.exists():
            raise unknown
        self._require_edit(author, self._projects("batch = ?", [batch]))
        with self._connect() as db, write_transaction(db):
            if db.execute(f"SELECT 1 FROM {TABLE} WHERE batch = ? LIMIT 1", [batch]).fetchone() is None:
                raise unknown
            cursor = db.execute(
                f"UPDATE {TABLE} SET undone_at = ? WHERE batch = ? AND undone_at IS NULL", [_now(), batch]
            )
            _reseal(db, "batch = ?", [batch])
            return cursor.rowcount

    def undo_all(self, run_key: str, split: str | None = None, *, author: str | None = None) -> int:
        """Undo every active edit of a run (of one split, if given); return how many. ``author``
        as for :meth:`undo`."""
        if not self.path.exists():
            return 0
        self._require_edit(author, [run_key.split("/", 1)[0]])
        where, params = _where(run_key, split)
        now = _now()
        with self._connect() as db, write_transaction(db):
            cursor = db.execute(f"UPDATE {TABLE} SET undone_at = ? WHERE {where} AND undone_at IS NULL", [now, *params])
            _reseal(db, f"{where} AND undone_at = ?", [*params, now])
            return cursor.rowcount

    def _require_edit(self, author: str | None, projects: Sequence[str]) -> None:
        """In a team's home (a users file beside the cart), refuse unless ``author`` may edit
        every one of ``projects`` (dq.team): the check is here, not only in the pages."""
        for project in projects:
            require_role(self.path.parent, author, project, EDIT)

    def _projects(self, where: str, params: Sequence[object]) -> list[str]:
        """The projects of the edits that ``where`` selects."""
        keys = self._read(f"SELECT DISTINCT run FROM {TABLE} WHERE {where}", params)["run"]
        return sorted({str(key).split("/", 1)[0] for key in keys})

    # --- reading ----------------------------------------------------------------------------------

    def history(
        self, run_key: str, split: str | None = None, *, action: str | None = None, include_undone: bool = True
    ) -> pd.DataFrame:
        """Every edit of a run (one split, one action, only the active ones, if asked), newest first."""
        where, params = _where(run_key, split)
        if action is not None:
            _check_action(action)
            where, params = f"{where} AND action = ?", [*params, action]
        if not include_undone:
            where += " AND undone_at IS NULL"
        return self._read(f"SELECT * FROM {TABLE} WHERE {where} ORDER BY edit_id DESC", params)

    def active(self, run_key: str, split: str) -> pd.DataFrame:
        """The effective edits of one split: per sample and field, the latest edit not undone.

        The columns of ``history`` plus ``field`` (label, text, removed, review), oldest first.
        """
        # The newest edit of each (sample, action): the same as ROW_NUMBER() over a window, twice as fast.
        sql = (
            f"SELECT {TABLE}.* FROM {TABLE} JOIN (SELECT MAX(edit_id) AS edit_id FROM {TABLE} "
            "WHERE run = ? AND split = ? AND undone_at IS NULL GROUP BY sample_id, action) USING (edit_id) "
            "ORDER BY edit_id"
        )
        frame = self._read(sql, [run_key, split])
        return frame.assign(field=frame["action"].map(FIELDS))

    def version(self, run_key: str, split: str) -> tuple[int, int]:
        """A value that changes whenever the edits of one split change: (newest edit id, edits undone).

        Adding an edit raises the first, undoing one the second (edits are never deleted), so a
        reader may keep ``active`` until the version moves.
        """
        if not self.path.exists():
            return (0, 0)
        sql = (
            f"SELECT COALESCE(MAX(edit_id), 0) AS newest, COUNT(undone_at) AS undone FROM {TABLE} "
            "WHERE run = ? AND split = ?"
        )
        with self._connect() as db:
            row = next(db.query(sql, [run_key, split]))
        return (int(row["newest"]), int(row["undone"]))

    def counts(self, run_key: str, split: str | None = None) -> dict[str, int]:
        """How many samples each action is active on (every action present, zeros included)."""
        counts = dict.fromkeys(ACTIONS, 0)
        if not self.path.exists():
            return counts
        where, params = _where(run_key, split)
        sql = (
            f"SELECT action, COUNT(*) AS n FROM (SELECT DISTINCT split, sample_id, action FROM {TABLE} "
            f"WHERE {where} AND undone_at IS NULL) GROUP BY action"
        )
        with self._connect() as db:
            counts.update({row["action"]: int(row["n"]) for row in db.query(sql, params)})
        return counts


def _where(run_key: str, split: str | None) -> tuple[str, list[object]]:
    if split is None:
        return "run = ?", [run_key]
    return "run = ? AND split = ?", [run_key, split]


def _check_action(action: object) -> None:
    if action not in ACTIONS:
        raise ValidationError(f"The 'action' parameter must be one of {list(ACTIONS)}. Got {action!r} instead.")


def _check_change(change: Change, class_names: list[str]) -> None:
    if not isinstance(change, Change):
        raise ValidationError(f"The 'changes' parameter must hold Change objects. Got {type(change).__name__}.")
    _check_action(change.action)
    if change.action == RELABEL and change.new_value not in class_names:
        raise ValidationError(
            f"The new label of sample {change.sample_id!r} must be one of this run's labels {class_names}. "
            f"Got {change.new_value!r} instead."
        )
    if change.action == EDIT_TEXT and not (isinstance(change.new_value, str) and change.new_value.strip()):
        raise ValidationError(
            f"The new text of sample {change.sample_id!r} must be a non-empty string. Got {change.new_value!r} instead."
        )


@functools.lru_cache(maxsize=8)
def _split_ids(path: str, content_hash: str, split: str) -> pd.Index:
    # The ids of a split as text (what an edit's sample_id is), read once per version of a run.
    return pd.Index(Run(path).samples(split, columns=["id"])["id"].astype(str))


def _check_samples_exist(run: Run, split: str, changes: Sequence[Change]) -> None:
    """Refuse edits of samples the split does not hold: no export could ever apply them."""
    wanted = pd.Index([c.sample_id for c in changes])
    missing = wanted[~wanted.isin(_split_ids(str(run.path), run.content_hash, split))]
    if len(missing):
        raise ValidationError(
            f"The 'changes' parameter must name samples of {split!r} of this run; "
            f"{len(missing):,} do not: {examples(list(missing))}."
        )
