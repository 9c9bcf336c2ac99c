"""Team (admins): who holds which role in the projects the visitor administers; grant and take back
roles. The library checks the visitor's own role on every change (``Users.add(by=)``), so a page
drawn before a role was taken back cannot be used to grant anything."""

import streamlit as st

from dq.errors import DQError
from dq.store import list_runs
from dq.team import ALL_PROJECTS, MANAGE, ROLES, Users
from dq_console.state import notify, require_entry_script
from dq_console.team import signed_in_email

EVERY_PROJECT = "every project"

require_entry_script()
me = signed_in_email()
users = Users()
if me is None or not users.exists():
    st.stop()
st.title("Team")
known = sorted({e.project for e in list_runs()} | set(users.grants()["project"]) - {ALL_PROJECTS})
administered = [p for p in [ALL_PROJECTS, *known] if users.may(me, p, MANAGE)]
if not administered:
    st.info("Granting roles needs the admin role in a project.", icon=":material/block:")
    st.stop()
grants = users.grants()
if ALL_PROJECTS not in administered:
    grants = grants[grants["project"].isin(administered)]
st.caption(
    "viewer reads · editor also edits the cart, uploads and retrains · admin also grants roles. A grant on every "
    "project holds in each; a user's role in a project is the stronger of the two."
)
st.dataframe(
    grants.assign(project=grants["project"].replace(ALL_PROJECTS, EVERY_PROJECT)),
    hide_index=True,
    column_config={
        "email": st.column_config.TextColumn("E-mail"),
        "project": st.column_config.TextColumn("Project"),
        "role": st.column_config.TextColumn("Role"),
        "granted_by": st.column_config.TextColumn("Granted by"),
        "granted_at": st.column_config.TextColumn("When (UTC)"),
    },
)


def _label(project: str) -> str:
    return EVERY_PROJECT if project == ALL_PROJECTS else project


def _grant(email: str, role: str, project: str) -> None:
    try:
        Users().add(email, role, project=None if project == ALL_PROJECTS else project, by=me)
    except DQError as exc:
        notify(str(exc), icon=":material/error:")
        return
    notify(f"{email.strip().lower()} is now {role} in {_label(project)}.", icon=":material/person_add:")


def _take_back(email: str, project: str) -> None:
    try:
        n = Users().remove(email, project=None if project == ALL_PROJECTS else project, by=me)
    except DQError as exc:
        notify(str(exc), icon=":material/error:")
        return
    notify(
        f"Took back {n} grant{'s' if n != 1 else ''} of {email} in {_label(project)}.", icon=":material/person_remove:"
    )


st.subheader("Grant a role")
with st.form("grant", border=True):
    email_col, role_col, project_col = st.columns([3, 1, 2])
    email = email_col.text_input("E-mail", placeholder="name@example.com")
    role = role_col.selectbox("Role", ROLES)
    project = project_col.selectbox("Project", administered, format_func=_label)
    if st.form_submit_button("Grant", type="primary", icon=":material/person_add:"):
        _grant(email, role, project)
        st.rerun()

if not grants.empty:
    st.subheader("Take a role back")
    pairs = list(zip(grants["email"], grants["project"]))
    chosen = st.selectbox("Grant", pairs, format_func=lambda p: f"{p[0]} · {_label(p[1])}", key="team_take_back")
    if st.button("Take it back", icon=":material/person_remove:") and chosen is not None:
        _take_back(*chosen)
        st.rerun()
