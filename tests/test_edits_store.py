"""The edits cart on a real SQLite file: adding, resolving, undoing, schema versions, concurrency."""

from __future__ import annotations

import multiprocessing
import sqlite3
import sys
import threading
import time
import types
from datetime import UTC, datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from edits_fixtures import run  # noqa: F401 - pytest fixture
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tiny_runs import LABELS, fresh_tiny_run

from dq.edits import ACTIONS, SCHEMA_VERSION, Change, EditsCart, current_samples, run_key
from dq.edits.store import EDIT_COLUMNS
from dq.errors import AccessDenied, EditsDBError, ValidationError
from dq.store import Run
from dq.team import Users

N_PROCESSES, N_THREADS, ADDS_EACH = 3, 4, 15
#: Seconds the concurrency test holds the database locked while the writers start.
LOCK_HELD_S = 0.5


@pytest.fixture
def cart(tmp_path: Path) -> EditsCart:
    return EditsCart(tmp_path / "edits.db")


def relabel(sample_id: object, old: str, new: str) -> Change:
    return Change(sample_id, "relabel", old, new)


# --- adding and reading ---------------------------------------------------------------------------


def test_add_stores_one_batch_with_its_facts(run, cart):
    before = datetime.now(UTC)
    batch = cart.add(run, "training", [relabel(0, "billing", "login"), Change(1, "remove")], author="ana")
    history = cart.history(run_key(run))
    assert list(history.columns) == list(EDIT_COLUMNS)
    assert history["edit_id"].tolist() == [2, 1]  # newest first
    assert (history["batch"] == batch).all() and len(batch) == 32 and int(batch, 16) >= 0
    assert set(history["run"]) == {"tiny/r1"} and set(history["run_hash"]) == {run.content_hash}
    assert set(history["split"]) == {"training"} and set(history["author"]) == {"ana"}
    assert history["sample_id"].tolist() == ["1", "0"]  # ids stored as text
    assert history["undone_at"].isna().all()
    created = datetime.fromisoformat(history["created_at"].iloc[0])
    assert created.tzinfo is not None and created.utcoffset().total_seconds() == 0
    assert "." in history["created_at"].iloc[0]  # microseconds
    assert before <= created <= datetime.now(UTC)


@pytest.mark.parametrize(
    ("split", "changes", "words"),
    [
        ("nope", [Change(0, "remove")], ["'split'", "'nope'", "training"]),
        ("training", [], ["'changes'", "at least one"]),
        ("training", [Change(0, "delete")], ["'action'", "'delete'", "relabel"]),
        ("training", [Change(0, "remove"), relabel(1, "billing", "refunds")], ["'refunds'", "billing", "'1'"]),
        ("training", [Change(0, "edit_text", "x", "  ")], ["text", "'0'"]),
    ],
)
def test_add_refuses_bad_changes_and_writes_nothing(run, cart, split, changes, words):
    with pytest.raises(ValidationError) as info:
        cart.add(run, split, changes, author="ana")
    message = str(info.value)
    assert "\n" not in message and all(w in message for w in words), message
    assert cart.history(run_key(run)).empty


def test_reading_a_missing_database_creates_nothing(tmp_path):
    cart = EditsCart(tmp_path / "none" / "edits.db")
    assert cart.history("p/r").empty and cart.active("p/r", "training").empty
    assert cart.counts("p/r") == dict.fromkeys(ACTIONS, 0) and cart.undo_all("p/r") == 0
    assert not (tmp_path / "none").exists()


def test_default_path_is_under_dq_home(dq_home):
    assert EditsCart().path == dq_home / "edits.db"


def test_later_edit_wins_and_history_keeps_both(run, cart):
    key = run_key(run)
    cart.add(run, "training", [relabel(3, "billing", "delivery")], author="ana")
    cart.add(run, "training", [relabel(3, "delivery", "login"), Change(3, "edit_text", "a", "b")], author="bo")
    active = cart.active(key, "training")
    assert sorted(zip(active["field"], active["new_value"])) == [("label", "login"), ("text", "b")]
    assert cart.history(key, action="relabel")["new_value"].tolist() == ["login", "delivery"]
    assert cart.counts(key) == {"relabel": 1, "remove": 0, "edit_text": 1, "send_to_labelers": 0}


def test_history_filters_by_split_action_and_undone(run, cart):
    key = run_key(run)
    cart.add(run, "training", [Change(0, "remove")], author="ana")
    cart.add(run, "test", [Change(0, "send_to_labelers"), Change(1, "send_to_labelers")], author="ana")
    cart.undo(1)
    assert len(cart.history(key)) == 3 and len(cart.history(key, "test")) == 2
    assert cart.history(key, include_undone=False)["split"].tolist() == ["test", "test"]
    assert cart.history(key, action="remove")["edit_id"].tolist() == [1]
    assert cart.history("other/run").empty
    assert cart.counts(key) == {"relabel": 0, "remove": 0, "edit_text": 0, "send_to_labelers": 2}
    assert cart.counts(key, "training") == dict.fromkeys(ACTIONS, 0)
    with pytest.raises(ValidationError, match="'action'"):
        cart.history(key, action="nope")


# --- undo -----------------------------------------------------------------------------------------


def test_undo_one_brings_back_the_earlier_edit(run, cart):
    key = run_key(run)
    cart.add(run, "training", [relabel(3, "billing", "delivery")], author="ana")
    cart.add(run, "training", [relabel(3, "delivery", "login")], author="ana")
    cart.undo(2)
    assert cart.active(key, "training")["new_value"].tolist() == ["delivery"]
    undone_at = cart.history(key)["undone_at"].iloc[0]
    cart.undo(2)  # already undone: nothing changes
    history = cart.history(key)
    assert history["undone_at"].iloc[0] == undone_at and len(history) == 2  # rows are never deleted
    with pytest.raises(ValidationError, match="'edit_id'"):
        cart.undo(99)


def test_undo_batch_and_undo_all(run, cart):
    key = run_key(run)
    first = cart.add(run, "training", [Change(i, "remove") for i in range(3)], author="ana")
    cart.add(run, "training", [Change(5, "send_to_labelers")], author="ana")
    cart.add(run, "test", [Change(0, "remove")], author="ana")
    assert cart.undo_batch(first) == 3
    assert cart.undo_batch(first) == 0
    assert cart.active(key, "training")["sample_id"].tolist() == ["5"]
    assert cart.undo_all(key, "training") == 1
    assert cart.counts(key) == {"relabel": 0, "remove": 1, "edit_text": 0, "send_to_labelers": 0}
    assert cart.undo_all(key) == 1 and cart.undo_all(key) == 0
    assert cart.active(key, "test").empty and len(cart.history(key)) == 5
    with pytest.raises(ValidationError, match="'batch'"):
        cart.undo_batch("f" * 32)


def test_the_version_moves_with_every_add_and_undo_of_its_split_only(run, cart):
    key = run_key(run)
    versions = [cart.version(key, "training")]
    batch = cart.add(run, "training", [Change(1, "remove")], author="ana")
    versions.append(cart.version(key, "training"))
    cart.add(run, "test", [Change(0, "remove")], author="ana")
    assert cart.version(key, "training") == versions[-1]  # another split's edit
    cart.undo_batch(batch)
    versions.append(cart.version(key, "training"))
    cart.undo_batch(batch)  # nothing left to undo
    assert cart.version(key, "training") == versions[-1]
    assert len(set(versions)) == 3 and versions[0] == (0, 0)


def test_remove_and_relabel_resolve_independently(run, cart):
    key = run_key(run)
    cart.add(run, "training", [relabel(4, "delivery", "login")], author="ana")
    removal = cart.add(run, "training", [Change(4, "remove")], author="ana")
    current = current_samples(run, "training", cart.active(key, "training")).set_index("id")
    assert current.loc[4, "label"] == "login" and current.loc[4, "removed"]
    cart.undo_batch(removal)
    current = current_samples(run, "training", cart.active(key, "training")).set_index("id")
    assert current.loc[4, "label"] == "login" and not current.loc[4, "removed"]


# --- the file -------------------------------------------------------------------------------------


def test_schema_is_versioned_with_wal_and_indexes(run, cart):
    cart.add(run, "training", [Change(0, "remove")], author="ana")
    conn = sqlite3.connect(cart.path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 2
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        columns = [row[1] for row in conn.execute("PRAGMA table_info(edits)")]
        assert columns == [*EDIT_COLUMNS, "checksum"]
        indexes = {
            row[1]: [c[2] for c in conn.execute(f"PRAGMA index_info({row[1]})")]
            for row in conn.execute("PRAGMA index_list(edits)")
        }
        assert indexes["edits_run_split"] == ["run", "split"]
    finally:
        conn.close()


def test_a_database_from_a_newer_dq_is_refused(run, cart):
    cart.add(run, "training", [Change(0, "remove")], author="ana")
    conn = sqlite3.connect(cart.path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    for call in (
        lambda: cart.history(run_key(run)),
        lambda: cart.add(run, "training", [Change(1, "remove")], author="ana"),
    ):
        with pytest.raises(EditsDBError, match=f"version {SCHEMA_VERSION + 1}") as info:
            call()
        assert "\n" not in str(info.value)


def test_a_file_that_is_not_sqlite_is_refused(tmp_path):
    path = tmp_path / "edits.db"
    path.write_text("not a database, just text " * 100)
    with pytest.raises(EditsDBError, match="not an edits database"):
        EditsCart(path).history("p/r")


def test_a_lock_held_past_the_busy_timeout_is_one_clear_error(run, cart, monkeypatch):
    cart.add(run, "training", [Change(0, "remove")], author="ana")
    monkeypatch.setattr("dq.edits.store.BUSY_TIMEOUT_S", 0.05)
    blocker = sqlite3.connect(cart.path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # another writer that does not let go
    try:
        with pytest.raises(EditsDBError, match="cannot be used now: database is locked") as info:
            cart.add(run, "training", [Change(1, "remove")], author="ana")
        assert "\n" not in str(info.value)
        assert len(cart.history(run_key(run))) == 1  # readers are not blocked by a writer (WAL)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()


def test_edits_survive_reopening(run, tmp_path):
    batch = EditsCart(tmp_path / "edits.db").add(run, "training", [relabel(0, "billing", "login")], author="ana")
    reopened = EditsCart(tmp_path / "edits.db")
    assert reopened.active(run_key(run), "training")["batch"].tolist() == [batch]
    assert reopened.undo_batch(batch) == 1


# --- concurrency ----------------------------------------------------------------------------------


def _add_many(db: str, run_dir: str, worker: str) -> list[str]:
    """Add ADDS_EACH one-edit batches, each through its own connection, as the console does; each
    worker edits samples of its own (worker "p1" or "t1" -> its own block of ids)."""
    cart, run = EditsCart(Path(db)), Run(run_dir)
    first = (int(worker[1:]) + (N_PROCESSES if worker[0] == "t" else 0)) * ADDS_EACH
    author = f"{worker}@example.com"
    return [cart.add(run, "training", [Change(first + i, "send_to_labelers")], author=author) for i in range(ADDS_EACH)]


def _process_worker(db: str, run_dir: str, worker: str, barrier: Any, results: Any) -> None:
    barrier.wait(timeout=120)  # start together with the other processes and the threads
    try:
        results.put((worker, _add_many(db, run_dir, worker)))
    except BaseException as exc:  # noqa: BLE001 - sent to the test, which fails on it
        results.put((worker, repr(exc)))


@pytest.mark.parametrize("team", [False, True], ids=["one person", "signed-in team"])
def test_processes_and_threads_adding_at_once_lose_nothing(tmp_path, monkeypatch, team):
    """Writers in processes and threads at once; in a team's home each writer is a signed-in editor,
    and a viewer writing at the same time is refused every time without disturbing anyone."""
    run = fresh_tiny_run(tmp_path / "home", n_train=(N_PROCESSES + N_THREADS) * ADDS_EACH)  # a sample per edit
    viewer_refusals: list[str] = []
    if team:
        users = Users(tmp_path / "users.db")  # beside the cart: the home is a team's
        for worker in [f"p{i}" for i in range(N_PROCESSES)] + [f"t{i}" for i in range(N_THREADS)]:
            users.add(f"{worker}@example.com", "editor", project=run.project)
        users.add("viewer@example.com", "viewer")
    # A spawned process re-runs the parent's __main__ file; under the whole suite that is whatever an
    # AppTest left there (streamlit_app.py). The workers live in this module: give them a bare __main__.
    monkeypatch.setitem(sys.modules, "__main__", types.ModuleType("__main__"))
    db = str(tmp_path / "edits.db")
    ctx = multiprocessing.get_context("spawn")
    barrier, results, go = ctx.Barrier(N_PROCESSES + 1), ctx.Queue(), threading.Event()
    outcomes: dict[str, list[str] | str] = {}

    def thread_worker(name: str) -> None:
        go.wait()
        try:
            outcomes[name] = _add_many(db, str(run.path), name)
        except BaseException as exc:  # noqa: BLE001 - checked below
            outcomes[name] = repr(exc)

    processes = [
        ctx.Process(target=_process_worker, args=(db, str(run.path), f"p{i}", barrier, results))
        for i in range(N_PROCESSES)
    ]

    def viewer_worker() -> None:
        go.wait()
        cart = EditsCart(Path(db))
        for i in range(ADDS_EACH):
            try:
                cart.add(run, "training", [Change(i, "remove")], author="viewer@example.com")
            except AccessDenied as exc:
                viewer_refusals.append(str(exc))

    threads = [threading.Thread(target=thread_worker, args=(f"t{i}",)) for i in range(N_THREADS)]
    if team:
        threads.append(threading.Thread(target=viewer_worker))
    for worker in (*processes, *threads):
        worker.start()
    # Hold an exclusive lock on the still empty file while every worker starts: all of them queue on
    # the busy timeout, then race to create the schema and to write.
    blocker = sqlite3.connect(db, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    barrier.wait(timeout=120)
    go.set()
    time.sleep(LOCK_HELD_S)
    blocker.execute("ROLLBACK")
    blocker.close()
    for _ in processes:
        name, outcome = results.get(timeout=120)
        outcomes[name] = outcome
    for worker in (*processes, *threads):
        worker.join(timeout=120)
    failures = {name: o for name, o in outcomes.items() if isinstance(o, str)}
    assert not failures, failures  # no "database is locked", no schema race

    total = (N_PROCESSES + N_THREADS) * ADDS_EACH
    history = EditsCart(Path(db)).history(run_key(run))
    batches = [b for o in outcomes.values() for b in o]
    assert len(history) == total == len(set(batches)) == len(set(history["sample_id"]))
    assert set(history["batch"]) == set(batches)
    assert sorted(history["edit_id"]) == list(range(1, total + 1))
    assert set(history["author"]) == {f"{name}@example.com" for name in outcomes}
    if team:
        assert len(viewer_refusals) == ADDS_EACH
        expected = f"viewer@example.com is a viewer of project '{run.project}'; changing it needs editor"
        assert expected in viewer_refusals[0]


# --- resolution, as a property --------------------------------------------------------------------

EDIT = st.tuples(st.integers(0, 4), st.sampled_from(["relabel", "edit_text", "remove"]), st.sampled_from(LABELS))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    batches=st.lists(st.lists(EDIT, min_size=1, max_size=4), min_size=1, max_size=5), undone=st.sets(st.integers(0, 4))
)
def test_active_is_the_latest_edit_not_undone_per_sample_and_field(run, tmp_path_factory, batches, undone):
    cart = EditsCart(tmp_path_factory.mktemp("prop") / "edits.db")
    ids = [
        cart.add(run, "training", [Change(s, a, None, v if a != "remove" else None) for s, a, v in batch], author="ana")
        for batch in batches
    ]
    for i in sorted(undone):
        if i < len(ids):
            cart.undo_batch(ids[i])
    expected: dict[tuple[str, str], str | None] = {}
    for i, batch in enumerate(batches):
        for s, a, v in batch:
            if i not in undone:
                expected[(str(s), a)] = v if a != "remove" else None
    active = cart.active(run_key(run), "training")
    new_values = [None if pd.isna(v) else v for v in active["new_value"]]
    assert dict(zip(zip(active["sample_id"], active["action"]), new_values)) == expected
    assert sum(cart.counts(run_key(run)).values()) == len(expected)


def test_edits_of_samples_the_split_does_not_hold_are_refused(tmp_path: Path) -> None:
    run = fresh_tiny_run(tmp_path / "home")
    cart = EditsCart(tmp_path / "edits.db")
    with pytest.raises(ValidationError) as info:
        cart.add(run, "training", [Change("0", "remove"), Change("no-such-id", "remove"), Change("9999", "remove")],
                 author="test")  # fmt: skip
    message = str(info.value)
    assert "\n" not in message and "2 do not" in message and "'no-such-id'" in message and "'9999'" in message
    assert cart.history(run_key(run), "training").empty  # nothing stored, not even the valid one
    with pytest.raises(ValidationError, match="1 do not"):
        cart.add(run, "test", [Change("89", "remove")], author="test")  # the test split holds ids 0..29
    cart.add(run, "training", [Change("0", "remove")], author="test")
    assert len(cart.history(run_key(run), "training")) == 1


def test_a_cart_of_schema_1_is_migrated_with_checksums_and_a_backup(run, tmp_path):
    from dq._util.sqlite import open_database
    from dq._util.sqlite_backup import backups_of
    from dq.edits.store import MIGRATIONS, row_hash
    from dq.errors import EditsDBError

    db = tmp_path / "old.db"
    with open_database(db, migrations=MIGRATIONS[:1], busy_timeout_s=1, what="an edits database", error=EditsDBError):
        pass
    conn = sqlite3.connect(db)  # an edit as dq 0.1 wrote it: no checksum column
    conn.execute(
        "INSERT INTO edits (run, run_hash, split, sample_id, action, old_value, new_value, author, created_at, batch) "
        "VALUES (?, ?, 'training', '3', 'relabel', 'billing', 'login', 'ana', '2026-01-01T00:00:00+00:00', 'b1')",
        [run_key(run), run.content_hash],
    )
    conn.commit()
    conn.close()

    active = EditsCart(db).active(run_key(run), "training")
    assert active["sample_id"].tolist() == ["3"] and "checksum" not in active
    conn = sqlite3.connect(db)
    (checksum,) = conn.execute("SELECT checksum FROM edits").fetchone()
    values = conn.execute(f"SELECT edit_id, {', '.join(EDIT_COLUMNS[1:])} FROM edits").fetchone()
    conn.close()
    assert checksum == row_hash(*values)
    assert any("before-v2" in p.name for p in backups_of(db, tmp_path / "backups"))


def test_a_value_changed_behind_sqlites_back_is_refused(run, tmp_path):
    from dq.errors import EditsDBError

    cart = EditsCart(tmp_path / "edits.db")
    cart.add(run, "training", [Change(5, "relabel", None, "login")], author="ana")
    conn = sqlite3.connect(cart.path)  # another program (or a flipped byte) changes a label
    conn.execute("UPDATE edits SET new_value = 'delivery'")
    conn.commit()
    conn.close()
    with pytest.raises(EditsDBError, match="do not match their checksum"):
        EditsCart(cart.path).active(run_key(run), "training")
