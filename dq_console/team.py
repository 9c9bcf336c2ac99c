"""Sign-in and roles in the console (``dq serve --auth-config``): who is signed in, what they may do.

With sign-in on (``DQ_SIGN_IN=1``, set by ``dq serve`` with an auth config), an anonymous visitor
gets the sign-in page and nothing else; a signed-in user without a grant gets a page saying so;
everyone else sees only the projects they hold a role in. The pages hide what a role may not do,
but the library refuses it anyway (``dq.edits`` checks every edit against ``dq.team.Users``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import NoReturn

import streamlit as st

from dq.config import dq_home
from dq.edits import default_author
from dq.errors import DQError
from dq.store import RunEntry
from dq.team import ALL_PROJECTS, EDIT, MANAGE, Users, normal_email, team_users
from dq.team.auth import SIGN_IN_ENV
from dq_console.filter_bar import escape_markdown


def sign_in_on() -> bool:
    """Whether this console asks its visitors to sign in."""
    return os.environ.get(SIGN_IN_ENV) == "1"


def signed_in_email() -> str | None:
    """The signed-in user's e-mail address (as grants store it), or None."""
    if not st.user.get("is_logged_in"):
        return None
    email = st.user.get("email")
    try:
        return normal_email(email)
    except DQError:
        return None


def author() -> str:
    """Who the cart records as an edit's author: the signed-in user's e-mail, else the local user."""
    return signed_in_email() or default_author()


def gate() -> str | None:
    """Before any page: with sign-in on, draw the sign-in page (anonymous) or the no-access page
    (no grant, or no e-mail from the provider) and stop the script; return the signed-in e-mail.
    Without sign-in, None."""
    if not sign_in_on():
        return None
    if not st.user.get("is_logged_in"):
        _only(_sign_in_page, "Sign in", ":material/login:")
    email = signed_in_email()
    if not _granted(email):
        _only(_no_access_page, "No access", ":material/block:")
    return email


#: The paths of the console's pages: a link to one of them opens the one page a visitor may see
#: there (not Streamlit's "page not found").
PAGE_PATHS = ("embeddings", "clusters", "edits_cart", "runs", "upload", "team")


def _only(page: Callable[[], None], title: str, icon: str) -> NoReturn:
    """Run ``page`` whatever the address, and nothing else."""
    pages = [st.Page(page, title=title, icon=icon, default=True)]
    pages += [st.Page(page, title=title, icon=icon, url_path=path) for path in PAGE_PATHS]
    st.navigation(pages, position="hidden").run()
    st.stop()


def _sign_in_page() -> None:
    st.set_page_config(page_title="Sign in · dq studio", page_icon=":material/fact_check:", layout="centered")
    st.title("dq studio")
    st.write("This console is shared by a team. Sign in to see the runs your role lets you see.")
    st.button("Sign in", type="primary", icon=":material/login:", on_click=st.login)


def _no_access_page() -> None:
    st.set_page_config(page_title="No access · dq studio", page_icon=":material/fact_check:", layout="centered")
    st.title("No access yet")
    email = signed_in_email()
    if email is None:
        st.write("Your sign-in gave no e-mail address, and roles are granted to e-mail addresses.")
    else:
        who = escape_markdown(email)
        st.write(f"You are signed in as **{who}**, but you hold no role in any project of this console.")
        st.write("Ask an admin to grant you one:")
        st.code(f"dq users add {email} --role viewer --project PROJECT", language="bash")
    st.button("Sign out", icon=":material/logout:", on_click=st.logout)


def require_visitor() -> None:
    """On a page (deep links included): stop, drawing nothing, unless sign-in is off or the visitor
    is signed in and holds a grant (the entry script's :func:`gate` says why to those who are not)."""
    if sign_in_on() and not _granted(signed_in_email()):
        st.stop()


def _granted(email: str | None) -> bool:
    """Whether ``email`` holds any grant (None: no e-mail from the provider)."""
    return email is not None and not Users().grants(email).empty


def visible(entries: list[RunEntry]) -> list[RunEntry]:
    """The runs among ``entries`` whose project the visitor may read."""
    projects = readable_projects()
    return entries if projects is None else [e for e in entries if e.project in projects]


def readable_projects() -> set[str] | None:
    """The projects the visitor may read: None for every project (no sign-in, or a grant on all)."""
    email = _visitor()
    return None if email is None else Users().projects(email)


def _visitor() -> str | None:
    """The signed-in visitor's e-mail when the console asks visitors to sign in, else None."""
    return signed_in_email() if sign_in_on() else None


def _checked() -> tuple[Users | None, str | None]:
    """What the library checks a change against: the home's users (None: one person's home, where
    nothing is checked) and the visitor as an author (None: not an e-mail address, refused)."""
    who = author()
    return team_users(dq_home()), who if _is_email(who) else None


def may_edit(project: str) -> bool:
    """Whether the cart would take an edit from this visitor in ``project`` (what the library checks)."""
    users, who = _checked()
    return users is None or (who is not None and users.may(who, project, EDIT))


def may_build_runs() -> bool:
    """Whether the visitor may build runs (upload) anywhere: no users file, or an editor grant."""
    users, who = _checked()
    return users is None or (who is not None and users.may_somewhere(who, EDIT))


def is_admin_somewhere() -> bool:
    """Whether the signed-in visitor administers a project (the Team page is theirs)."""
    email = _visitor()
    return email is not None and Users().may_somewhere(email, MANAGE)


def upload_projects(existing: list[str]) -> tuple[list[str], bool]:
    """Where the visitor may build a new run: the projects among ``existing`` (and among their
    grants) they may edit, and whether they may start a new project (no sign-in, or an editor
    grant on every project)."""
    users, who = _checked()
    if users is None:
        return sorted(set(existing)), True
    if who is None:
        return [], False
    named = set(users.grants(who)["project"]) - {ALL_PROJECTS}
    candidates = sorted(set(existing) | named)
    return [p for p in candidates if users.may(who, p, EDIT)], users.may(who, ALL_PROJECTS, EDIT)


def _is_email(value: str) -> bool:
    try:
        normal_email(value)
    except DQError:
        return False
    return True


def user_badge(project: str) -> None:
    """In the sidebar: who is signed in, their role in ``project``, and sign-out."""
    email = signed_in_email()
    if email is None:
        return
    role = Users().role(email, project)
    with st.sidebar:
        st.caption(escape_markdown(f"Signed in as {email} · {role or 'no role'} in {project}"))
        st.button("Sign out", icon=":material/logout:", on_click=st.logout, key="sign_out")


def read_only_note(project: str) -> None:
    """Said where a page leaves out the controls that change samples (the visitor may not edit)."""
    users, who = _checked()
    role = users.role(who, project) if users is not None and who is not None else None
    held = f"a {role} of {project}" if role else f"not granted a role in {project}"
    st.info(f"You are {held}: changing samples needs the editor role.", icon=":material/visibility:")
