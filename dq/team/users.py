"""Users and their roles, per project, in SQLite beside the edits cart (``$DQ_HOME/users.db``).

A dq home with a users file is a team's: from then on the library checks every change against its
author's role (``dq.edits.EditsCart`` refuses a viewer's edit itself, whatever page or script
sends it). Roles, weakest first: ``viewer`` reads, ``editor`` also edits the cart, uploads and
retrains, ``admin`` also grants roles. A grant is for one project or, with no project, for every
project (``*``); a user's role in a project is the stronger of the two. A home without a users
file is one person's: nothing is checked, as before.

>>> import tempfile, pathlib
>>> users = Users(pathlib.Path(tempfile.mkdtemp()) / "users.db")
>>> users.add("Alice@Example.com", "editor", project="support")
>>> users.role("alice@example.com", "support"), users.role("alice@example.com", "billing")
('editor', None)
>>> users.may("alice@example.com", "support", EDIT), users.may("alice@example.com", "billing", READ)
(True, False)
>>> users.require("alice@example.com", "billing", READ)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
dq.errors.AccessDenied: alice@example.com has no role in project 'billing'; reading it needs viewer (an admin ...).
"""

from __future__ import annotations

import re
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

import pandas as pd
from sqlite_utils import Database

from dq._util.sqlite import connection, write_transaction
from dq._util.validate import as_name
from dq.config import dq_home
from dq.errors import AccessDenied, UsersDBError, ValidationError

#: File name of the users file, beside the cart.
DB_NAME = "users.db"
#: The roles, weakest first: each may do what the ones before it may.
ROLES: tuple[str, ...] = ("viewer", "editor", "admin")
#: The project of a grant that holds in every project.
ALL_PROJECTS = "*"
#: What a user may be asked to do, and the weakest role that may.
READ, EDIT, MANAGE = "read", "edit", "manage"
NEEDS: dict[str, str] = {READ: "viewer", EDIT: "editor", MANAGE: "admin"}
_VERBS = {READ: "reading it", EDIT: "changing it", MANAGE: "granting roles in it"}
#: Columns of :meth:`Users.grants`, in order.
GRANT_COLUMNS: tuple[str, ...] = ("email", "project", "role", "granted_by", "granted_at")
TABLE = "grants"
BUSY_TIMEOUT_S = 10.0
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")


def _migrate_1(db: Database) -> None:
    db[TABLE].create(  # type: ignore[union-attr]
        {"email": str, "project": str, "role": str, "granted_by": str, "granted_at": str},
        pk=("email", "project"),
        not_null={"email", "project", "role", "granted_at"},
    )


MIGRATIONS = (_migrate_1,)
#: The schema version this dq writes (``PRAGMA user_version``).
SCHEMA_VERSION = len(MIGRATIONS)


def normal_email(email: object) -> str:
    """An e-mail address as grants store it (trimmed, lower case); anything else is refused.

    >>> normal_email("  Bob@Example.COM ")
    'bob@example.com'
    """
    if not isinstance(email, str) or not _EMAIL.fullmatch(email.strip()):
        raise ValidationError(f"The 'email' parameter must be an e-mail address (name@domain). Got {email!r} instead.")
    return email.strip().lower()


def _check_role(role: object) -> str:
    if role not in ROLES:
        raise ValidationError(f"The 'role' parameter must be one of {list(ROLES)}. Got {role!r} instead.")
    return str(role)


def _check_project(project: object) -> str:
    return ALL_PROJECTS if project is None else as_name(project, param="project")


def _check_action(action: object) -> str:
    if action not in NEEDS:
        raise ValidationError(f"The 'action' parameter must be one of {list(NEEDS)}. Got {action!r} instead.")
    return str(action)


def stronger(a: str | None, b: str | None) -> str | None:
    """The stronger of two roles (None: no role).

    >>> stronger("viewer", "editor"), stronger(None, "viewer"), stronger(None, None)
    ('editor', 'viewer', None)
    """
    known = [r for r in (a, b) if r is not None]
    return max(known, key=ROLES.index) if known else None


class Users:
    """The grants of one dq home (default ``$DQ_HOME/users.db``). Every method opens its own
    connection, so a page, the CLI and a script may share the file."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = Path(path).expanduser() if path is not None else dq_home() / DB_NAME

    def exists(self) -> bool:
        """Whether this home is a team's (its users file exists): then every change is checked."""
        return self.path.is_file()

    def _connect(self) -> AbstractContextManager[Database]:
        return connection(
            self.path,
            migrations=MIGRATIONS,
            busy_timeout_s=BUSY_TIMEOUT_S,
            what="a users database",
            error=UsersDBError,
            backup_dir=self.path.parent / "backups",
        )

    # --- changing ---------------------------------------------------------------------------------

    def add(self, email: str, role: str, *, project: str | None = None, by: str | None = None) -> None:
        """Grant ``role`` in ``project`` (every project when None) to ``email``, replacing the
        grant it had there. ``by``: who grants it; in a team's home an admin of that project
        (None: the command line of the server's operator, who owns the file)."""
        email, role, project = normal_email(email), _check_role(role), _check_project(project)
        if by is not None and self.exists():
            self.require(by, project, MANAGE)
        now = datetime.now(UTC).isoformat(timespec="seconds")
        with self._connect() as db, write_transaction(db):
            db.execute(
                f"INSERT OR REPLACE INTO {TABLE} (email, project, role, granted_by, granted_at) VALUES (?, ?, ?, ?, ?)",
                [email, project, role, normal_email(by) if by is not None else None, now],
            )

    def remove(self, email: str, *, project: str | None = None, by: str | None = None) -> int:
        """Take back ``email``'s grant in ``project`` (every grant it has when None); return how
        many grants went. ``by`` as for :meth:`add`."""
        email = normal_email(email)
        if not self.exists():
            return 0
        if project is not None:
            project = _check_project(project)
        if by is not None:
            self.require(by, project or ALL_PROJECTS, MANAGE)
        where, params = ("email = ?", [email]) if project is None else ("email = ? AND project = ?", [email, project])
        with self._connect() as db, write_transaction(db):
            return db.execute(f"DELETE FROM {TABLE} WHERE {where}", params).rowcount

    # --- reading ----------------------------------------------------------------------------------

    def grants(self, email: str | None = None) -> pd.DataFrame:
        """Every grant (of ``email`` only, if given), by e-mail then project; columns ``GRANT_COLUMNS``."""
        if not self.exists():
            return pd.DataFrame(columns=list(GRANT_COLUMNS))
        where, params = ("", []) if email is None else ("WHERE email = ?", [normal_email(email)])
        with self._connect() as db:
            rows = db.execute(f"SELECT {', '.join(GRANT_COLUMNS)} FROM {TABLE} {where} ORDER BY email, project", params)
            return pd.DataFrame.from_records(rows.fetchall(), columns=list(GRANT_COLUMNS))

    def role(self, email: str, project: str) -> str | None:
        """``email``'s role in ``project`` (the stronger of its grant there and its grant in every
        project), or None."""
        grants = self.grants(email)
        held = grants.loc[grants["project"].isin([project, ALL_PROJECTS]), "role"].tolist()
        role: str | None = None
        for r in held:
            role = stronger(role, r)
        return role

    def may(self, email: str, project: str, action: str) -> bool:
        """Whether ``email`` may do ``action`` (READ, EDIT, MANAGE) in ``project``."""
        return _allows(self.role(email, project), _check_action(action))

    def may_somewhere(self, email: str, action: str) -> bool:
        """Whether some grant of ``email`` lets it do ``action`` (in one project or every one)."""
        action = _check_action(action)
        return any(_allows(role, action) for role in self.grants(email)["role"])

    def require(self, email: str | None, project: str, action: str) -> str:
        """``email``'s role in ``project`` when it may do ``action`` there; else ``AccessDenied``,
        in one line that says what role is needed and how it is granted."""
        action = _check_action(action)
        if not isinstance(email, str) or not _EMAIL.fullmatch(email.strip()):
            raise AccessDenied(
                f"This dq home is a team's: {_VERBS[action]} needs a signed-in user's e-mail address (got {email!r})."
            )
        email = normal_email(email)
        role, needed = self.role(email, project), NEEDS[action]
        if _allows(role, action):
            return cast(str, role)
        where = "every project" if project == ALL_PROJECTS else f"project {project!r}"
        held = f"is {_article(role)} {role} of {where}" if role else f"has no role in {where}"
        flag = "" if project == ALL_PROJECTS else f" --project {project}"
        raise AccessDenied(
            f"{email} {held}; {_VERBS[action]} needs {needed} "
            f"(an admin grants it: dq users add {email} --role {needed}{flag})."
        )

    def projects(self, email: str) -> set[str] | None:
        """The projects ``email`` may read: a set, or None for every project (a grant on ``*``)."""
        held = set(self.grants(email)["project"])
        return None if ALL_PROJECTS in held else held


def _allows(role: str | None, action: str) -> bool:
    """Whether ``role`` (None: no role) may do ``action``."""
    return role is not None and ROLES.index(role) >= ROLES.index(NEEDS[action])


def _article(role: str) -> str:
    return "an" if role[0] in "aeiou" else "a"


def team_users(home: Path) -> Users | None:
    """The users of the dq home ``home``, or None when that home is one person's (no users file)."""
    users = Users(home / DB_NAME)
    return users if users.exists() else None


def require_role(home: Path, email: str | None, project: str, action: str) -> None:
    """In a team's home, refuse (``AccessDenied``) unless ``email`` may do ``action`` in ``project``;
    in one person's home, nothing is checked. What every changing call of the library runs first."""
    users = team_users(home)
    if users is not None:
        users.require(email, project, action)
