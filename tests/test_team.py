"""A team's dq home: users and roles in SQLite (dq.team), the cart's checks of them, ``dq users``,
and the checks ``dq serve`` makes before it listens (real SQLite, the real CLI in a subprocess)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from edits_fixtures import run  # noqa: F401 - pytest fixture

from dq.edits import Change, EditsCart, run_key
from dq.errors import AccessDenied, UsersDBError, ValidationError
from dq.store import Run
from dq.team import ALL_PROJECTS, EDIT, MANAGE, READ, Users
from dq.team.auth import AUTH_KEYS, check_listen, read_auth_config

SECRET = "s3cr3t-value-that-must-never-be-printed"


@pytest.fixture
def users(tmp_path: Path) -> Users:
    return Users(tmp_path / "users.db")


def test_roles_per_project_and_for_every_project(users: Users) -> None:
    assert not users.exists() and users.grants().empty  # reading creates nothing
    users.add(" Alice@Example.com ", "editor", project="support")
    users.add("alice@example.com", "viewer")  # every project
    users.add("bob@example.com", "admin", project="billing")
    assert users.exists()
    assert users.role("alice@example.com", "support") == "editor"  # the stronger of the two grants
    assert users.role("alice@example.com", "billing") == "viewer"
    assert users.role("bob@example.com", "support") is None
    assert users.may("bob@example.com", "billing", MANAGE) and not users.may("alice@example.com", "support", MANAGE)
    assert users.projects("alice@example.com") is None and users.projects("bob@example.com") == {"billing"}
    grants = users.grants()
    assert list(grants.columns) == ["email", "project", "role", "granted_by", "granted_at"]
    assert grants[["email", "project", "role"]].values.tolist() == [
        ["alice@example.com", ALL_PROJECTS, "viewer"],
        ["alice@example.com", "support", "editor"],
        ["bob@example.com", "billing", "admin"],
    ]
    users.add("alice@example.com", "admin", project="support")  # replaces, never duplicates
    assert users.role("alice@example.com", "support") == "admin" and len(users.grants("alice@example.com")) == 2
    assert users.remove("alice@example.com", project="support") == 1
    assert users.role("alice@example.com", "support") == "viewer"
    assert users.remove("alice@example.com") == 1 and users.grants("alice@example.com").empty


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda u: u.add("not-an-email", "viewer"), "The 'email' parameter must be an e-mail address"),
        (lambda u: u.add("a@b.c", "owner"), "The 'role' parameter must be one of ['viewer', 'editor', 'admin']"),
        (
            lambda u: u.add("a@b.c", "viewer", project="a/b"),
            "The 'project' parameter must be a non-empty name without '/'",
        ),
        (lambda u: u.may("a@b.c", "p", "delete"), "The 'action' parameter must be one of ['read', 'edit', 'manage']"),
    ],
)
def test_bad_arguments_are_one_line_errors(users: Users, call, message) -> None:
    with pytest.raises(ValidationError, match=message.replace("[", r"\[").replace("]", r"\]")) as err:
        call(users)
    assert "\n" not in str(err.value)


def test_only_an_admin_grants_and_the_refusal_says_how(users: Users) -> None:
    users.add("ana@example.com", "admin", project="support")
    users.add("ed@example.com", "editor", project="support")
    users.add("new@example.com", "viewer", project="support", by="ana@example.com")
    assert users.grants("new@example.com")["granted_by"].tolist() == ["ana@example.com"]
    with pytest.raises(AccessDenied) as err:
        users.add("x@example.com", "admin", project="support", by="ed@example.com")
    assert str(err.value) == (
        "ed@example.com is an editor of project 'support'; granting roles in it needs admin "
        "(an admin grants it: dq users add ed@example.com --role admin --project support)."
    )
    with pytest.raises(AccessDenied, match="has no role in every project"):
        users.remove("new@example.com", by="ed@example.com")
    with pytest.raises(AccessDenied, match="needs a signed-in user's e-mail address"):
        users.require(None, "support", READ)


def test_a_users_file_of_a_newer_dq_or_not_sqlite_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "users.db"
    Users(path).add("a@example.com", "viewer")
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version = 99")
    with pytest.raises(UsersDBError, match="schema version 99"):
        Users(path).grants()
    garbage = tmp_path / "g" / "users.db"
    garbage.parent.mkdir()
    garbage.write_bytes(b"not a database at all" * 100)
    with pytest.raises(UsersDBError, match="users database"):
        Users(garbage).grants()


def test_the_cart_itself_refuses_what_a_role_does_not_allow(run: Run, tmp_path: Path) -> None:  # noqa: F811
    home = tmp_path / "team"
    cart = EditsCart(home / "edits.db")
    change = [Change(0, "remove")]
    one_person = cart.add(run, "training", change, author="whoever")  # no users file: nothing is checked
    users = Users(home / "users.db")
    users.add("alice@example.com", "editor", project=run.project)
    users.add("bob@example.com", "viewer", project=run.project)
    users.add("carol@example.com", "editor", project="elsewhere")
    batch = cart.add(run, "training", [Change(1, "relabel", None, run.labels[0])], author="Alice@Example.com")
    with pytest.raises(ValidationError, match="The 'author' parameter must be a non-empty string"):
        cart.add(run, "training", change, author=None)  # type: ignore[arg-type]
    for who in ("bob@example.com", "carol@example.com", "whoever", None):
        if who is not None:
            with pytest.raises(AccessDenied):
                cart.add(run, "training", change, author=who)
        with pytest.raises(AccessDenied):
            cart.undo_batch(batch, author=who)
        with pytest.raises(AccessDenied):
            cart.undo_all(run_key(run), "training", author=who)
        with pytest.raises(AccessDenied):
            cart.undo(1, author=who)
    history = cart.history(run_key(run))
    assert len(history) == 2 and history["undone_at"].isna().all()  # nothing refused was written
    assert cart.undo_batch(one_person, author="alice@example.com") == 1
    assert cart.undo_all(run_key(run), "training", author="alice@example.com") == 1


def _dq(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DQ_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "dq", *args], capture_output=True, text=True, env=env, timeout=120)


def test_dq_users_add_list_remove(tmp_path: Path) -> None:
    listed = _dq("users", "list", home=tmp_path)
    assert listed.returncode == 0 and "no users" in listed.stdout
    added = _dq("users", "add", "Bob@Example.com", "--role", "viewer", "--project", "support", home=tmp_path)
    assert added.returncode == 0, added.stderr
    assert "bob@example.com is now viewer in project support" in added.stdout
    assert _dq("users", "add", "ana@example.com", "--role", "admin", home=tmp_path).returncode == 0
    listed = _dq("users", "list", home=tmp_path)
    rows = [line.split() for line in listed.stdout.splitlines()[1:]]
    assert [r[:3] for r in rows] == [["ana@example.com", "*", "admin"], ["bob@example.com", "support", "viewer"]]
    bad = _dq("users", "add", "bob", "--role", "viewer", home=tmp_path)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "e-mail address" in bad.stderr
    bad = _dq("users", "add", "bob@example.com", "--role", "owner", home=tmp_path)
    assert bad.returncode == 2 and "invalid choice: 'owner'" in bad.stderr
    assert _dq("users", "remove", "bob@example.com", home=tmp_path).returncode == 0
    assert _dq("users", "remove", "bob@example.com", home=tmp_path).returncode == 2  # nothing to remove
    assert Users(tmp_path / "users.db").grants()["email"].tolist() == ["ana@example.com"]


def _auth_file(path: Path, **changes: str | None) -> Path:
    values = {
        "redirect_uri": "https://dq.example.com/oauth2callback",
        "cookie_secret": SECRET + "-cookie",
        "client_id": "dq-studio",
        "client_secret": SECRET,
        "server_metadata_url": "https://idp.example.com/.well-known/openid-configuration",
    }
    values.update(changes)
    body = "\n".join(f'{k} = "{v}"' for k, v in values.items() if v is not None)
    path.write_text(f"[auth]\n{body}\n")
    return path


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"client_secret": None}, "must give client_secret"),
        ({"client_id": "", "server_metadata_url": None}, "must give client_id, server_metadata_url"),
        ({"redirect_uri": "https://dq.example.com/"}, "must end with /oauth2callback"),
        ({"cookie_secret": "short"}, "at least 32 characters"),
    ],
)
def test_auth_config_errors_name_keys_never_values(tmp_path: Path, changes, message) -> None:
    with pytest.raises(ValidationError, match=message) as err:
        read_auth_config(_auth_file(tmp_path / "auth.toml", **changes))
    assert SECRET not in str(err.value) and "short" not in str(err.value)


def test_auth_config_that_is_not_toml_or_has_no_section(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text(f'[auth]\nclient_secret = "{SECRET}\n')  # an unclosed string
    with pytest.raises(ValidationError, match="is not valid TOML") as err:
        read_auth_config(broken)
    assert SECRET not in str(err.value)
    other = tmp_path / "other.toml"
    other.write_text("[server]\nport = 1\n")
    with pytest.raises(ValidationError, match="has no \\[auth\\] section"):
        read_auth_config(other)
    assert set(read_auth_config(_auth_file(tmp_path / "ok.toml"))["auth"]) == set(AUTH_KEYS)


def test_dq_serve_refuses_before_it_listens(tmp_path: Path) -> None:
    check_listen("127.0.0.1", None)  # this machine only: no sign-in needed
    with pytest.raises(ValidationError, match="Listening on 0.0.0.0 needs sign-in"):
        check_listen("0.0.0.0", None)
    refused = _dq("serve", "--host", "0.0.0.0", "--port", "8599", home=tmp_path)
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1
    auth = _auth_file(tmp_path / "auth.toml")
    nobody = _dq("serve", "--host", "0.0.0.0", "--auth-config", str(auth), home=tmp_path)
    assert nobody.returncode == 2 and "No one holds a role" in nobody.stderr
    bad = _dq("serve", "--auth-config", str(_auth_file(tmp_path / "bad.toml", client_id=None)), home=tmp_path)
    assert bad.returncode == 2 and "must give client_id" in bad.stderr
    for result in (refused, nobody, bad):
        assert SECRET not in result.stdout + result.stderr
