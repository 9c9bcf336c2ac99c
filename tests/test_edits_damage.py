"""A damaged edits cart is refused in one line naming it and its newest backup; backups are made
daily and before a migration, and restoring one brings every edit back.

Before the fix, a cart with one page zeroed made ``dq export`` die with a raw
``sqlite3.DatabaseError`` traceback, and no backup existed to restore.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from tiny_runs import fresh_tiny_run

from dq._util import sqlite_backup
from dq._util.sqlite import open_database
from dq.edits import EditsCart
from dq.edits.model import Change, run_key
from dq.errors import DQError, EditsDBError

PAGE = 4096


def _export(run_dir: Path, out: Path, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DQ_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "dq", "export", str(run_dir), "--split", "training", "--out", str(out)],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip


def _checkpoint(db: Path) -> None:
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def test_a_zeroed_page_is_refused_naming_the_backup_and_a_restore_brings_every_edit_back(tmp_path: Path) -> None:
    home = tmp_path / "home"
    run = fresh_tiny_run(home)
    cart = EditsCart(home / "edits.db")
    for i in range(80):  # several pages of edits, one batch each
        cart.add(run, "training", [Change(i, "relabel", None, "login")], author="ana")
    shutil.rmtree(home / "backups")  # the day's backup was made at the second add: start the day again
    assert len(cart.active(run_key(run), "training")) == 80  # this open makes the day's backup
    (backup,) = sqlite_backup.backups_of(cart.path, home / "backups")
    _checkpoint(cart.path)
    assert cart.path.stat().st_size > 3 * PAGE
    with cart.path.open("r+b") as fh:  # one page of the table zeroed, as a failing disk leaves it
        fh.seek(2 * PAGE)
        fh.write(b"\0" * PAGE)

    result = _export(run.path, tmp_path / "fixed.csv", home)
    assert result.returncode != 0 and "Traceback" not in result.stderr, result.stderr
    (line,) = [x for x in result.stderr.splitlines() if x.strip()]
    assert "edits.db" in line and "is damaged" in line and backup.name in line
    assert not (tmp_path / "fixed.csv").exists()

    shutil.copy(backup, cart.path)  # what docs/edits.md says to do
    for suffix in ("-wal", "-shm"):
        Path(str(cart.path) + suffix).unlink(missing_ok=True)
    result = _export(run.path, tmp_path / "fixed.csv", home)
    assert result.returncode == 0, result.stderr
    fixed = pd.read_csv(tmp_path / "fixed.csv")
    assert (fixed.set_index("id").loc[range(80), "label"] == "login").all()


def test_a_cart_that_is_not_sqlite_is_refused_in_one_line(tmp_path: Path) -> None:
    run = fresh_tiny_run(tmp_path / "home")
    db = tmp_path / "edits.db"
    db.write_bytes(b"not a database at all" * 500)
    with pytest.raises(EditsDBError) as info:
        EditsCart(db).active(run_key(run), "training")
    assert "\n" not in str(info.value) and str(db) in str(info.value)


def test_backups_before_a_migration_daily_and_at_most_seven(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db, backups = tmp_path / "t.db", tmp_path / "backups"
    step_1 = [lambda d: d.execute("CREATE TABLE t (x)")]
    with open_database(db, migrations=step_1, busy_timeout_s=1, what="a test file", error=DQError,
                       backup_dir=backups) as conn:  # fmt: skip
        conn.execute("INSERT INTO t VALUES (1)")
        conn.conn.commit()
    assert not backups.exists()  # a new file: nothing to keep yet
    step_2 = [*step_1, lambda d: d.execute("ALTER TABLE t ADD COLUMN y")]
    with open_database(db, migrations=step_2, busy_timeout_s=1, what="a test file", error=DQError,
                       backup_dir=backups):  # fmt: skip
        pass
    (before,) = [p for p in sqlite_backup.backups_of(db, backups) if "before-v2" in p.name]
    old = sqlite3.connect(before)
    assert old.execute("PRAGMA user_version").fetchone()[0] == 1  # the file as it was, schema 1
    assert old.execute("SELECT x FROM t").fetchall() == [(1,)]
    old.close()

    monkeypatch.setattr(sqlite_backup, "BACKUP_EVERY_S", 0)  # every open is a day later
    for _ in range(10):
        with open_database(db, migrations=step_2, busy_timeout_s=1, what="a test file", error=DQError,
                           backup_dir=backups):  # fmt: skip
            pass
        time.sleep(0.01)
    assert len(sqlite_backup.backups_of(db, backups)) == sqlite_backup.BACKUPS_KEPT
