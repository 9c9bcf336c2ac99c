"""dq.team: a dq home shared by a team: users and their roles per project (``dq users``), checked
by the library itself (a viewer's edit is refused by ``dq.edits``). See docs/deploy.md.

Pure library: no streamlit.
"""

from __future__ import annotations

from dq.team.users import ALL_PROJECTS, EDIT, MANAGE, READ, ROLES, Users, normal_email, require_role, team_users

__all__ = ["ALL_PROJECTS", "EDIT", "MANAGE", "READ", "ROLES", "Users", "normal_email", "require_role", "team_users"]
