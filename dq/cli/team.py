"""``dq serve`` (the console for a team, with sign-in) and ``dq users`` (who holds which role)."""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from collections.abc import Callable
from pathlib import Path

from dq.config import CONSOLE_HOST, CONSOLE_PORT, dq_home
from dq.errors import ValidationError
from dq.team.auth import SIGN_IN_ENV
from dq.team.users import DB_NAME, ROLES, Users, normal_email

#: The largest upload the console takes by default (MB); --max-upload-mb changes it.
DEFAULT_MAX_UPLOAD_MB = 200


def add_commands(
    sub: argparse._SubParsersAction,
    fmt: type[argparse.HelpFormatter],
    *,
    port: Callable[[str], int],
    positive: Callable[[str], int],
) -> None:
    """The parsers of ``dq serve`` and ``dq users add|list|remove`` (``port``, ``positive``: argument types)."""
    p = sub.add_parser(
        "serve",
        help="serve the console for a team: sign-in (OIDC), roles per project, shared edits cart",
        formatter_class=fmt,
        description="Serve the console over the runs under --home for a team. With --auth-config (a TOML file "
        "with Streamlit's [auth] section for your OIDC provider) every visitor signs in and sees only "
        "the projects granted to them (dq users add); without it dq serve listens only on this machine. "
        "Put it behind a reverse proxy for TLS (deploy/Caddyfile, docs/deploy.md).",
        epilog="example:\n  dq users add ana@example.com --role admin\n"
        "  dq serve --home /srv/dq --auth-config /etc/dq/auth.toml --port 8501",
    )
    p.add_argument("--home", type=Path, metavar="DIR", help="dq's files (default: $DQ_HOME or ~/.dq)")
    p.add_argument("--host", default=CONSOLE_HOST, help=f"address to listen on (default: {CONSOLE_HOST})")
    p.add_argument("--port", type=port, default=CONSOLE_PORT, help=f"port (default: {CONSOLE_PORT})")
    p.add_argument(
        "--auth-config", type=Path, metavar="FILE", help="TOML file with an [auth] section (see docs/deploy.md)"
    )
    p.add_argument(
        "--max-upload-mb",
        type=positive,
        default=DEFAULT_MAX_UPLOAD_MB,
        metavar="MB",
        help=f"largest dataset file an editor may upload in the browser (default: {DEFAULT_MAX_UPLOAD_MB})",
    )
    p.set_defaults(func=cmd_serve)

    users = sub.add_parser(
        "users",
        help="grant, list and take back roles (viewer, editor, admin) per project",
        formatter_class=fmt,
        description="Roles of a team's dq home, kept in <home>/users.db beside the edits cart: viewer reads, editor "
        "also edits the cart, uploads and retrains, admin also grants roles. A grant without --project holds in "
        "every project. Once a home has users, the library refuses every edit whose author may not make it.",
        epilog="example:\n  dq users add bob@example.com --role viewer --project support\n  dq users list",
    )
    users_sub = users.add_subparsers(dest="users_command", metavar="{add,list,remove}", required=True)
    p = users_sub.add_parser("add", help="grant a role (replacing the user's grant there)", formatter_class=fmt)
    p.add_argument("email")
    p.add_argument("--role", required=True, choices=ROLES)
    p.add_argument("--project", help="the project (default: every project)")
    p.add_argument("--home", type=Path, metavar="DIR", help="dq's files (default: $DQ_HOME or ~/.dq)")
    p.set_defaults(func=cmd_users_add)
    p = users_sub.add_parser("list", help="every grant: email, project, role, granted by, when", formatter_class=fmt)
    p.add_argument("--home", type=Path, metavar="DIR", help="dq's files (default: $DQ_HOME or ~/.dq)")
    p.set_defaults(func=cmd_users_list)
    p = users_sub.add_parser("remove", help="take back a user's grants", formatter_class=fmt)
    p.add_argument("email")
    p.add_argument("--project", help="only the grant in this project (default: every grant of the user)")
    p.add_argument("--home", type=Path, metavar="DIR", help="dq's files (default: $DQ_HOME or ~/.dq)")
    p.set_defaults(func=cmd_users_remove)


def _users(home: Path | None) -> Users:
    return Users((home.expanduser() if home is not None else dq_home()) / DB_NAME)


def cmd_users_add(args: argparse.Namespace) -> int:
    users = _users(args.home)
    users.add(args.email, args.role, project=args.project)
    where = f"project {args.project}" if args.project else "every project"
    print(f"{normal_email(args.email)} is now {args.role} in {where} ({users.path})")
    return 0


def cmd_users_list(args: argparse.Namespace) -> int:
    grants = _users(args.home).grants()
    if grants.empty:
        print("no users: this home is one person's (grant the first admin: dq users add EMAIL --role admin)")
        return 0
    print(grants.fillna("").to_string(index=False))
    return 0


def cmd_users_remove(args: argparse.Namespace) -> int:
    n = _users(args.home).remove(args.email, project=args.project)
    print(f"removed {n} grant{'s' if n != 1 else ''} of {normal_email(args.email)}")
    return 0 if n else 2


def cmd_serve(args: argparse.Namespace) -> int:
    from dq.team.auth import check_listen, read_auth_config, readable_by_others

    check_listen(args.host, args.auth_config)
    if importlib.util.find_spec("dq_console") is None:
        raise ValidationError("The console is not installed beside dq: reinstall dq-studio (pip install dq-studio).")
    argv = [sys.executable, "-m", "dq_console.serve", "--host", args.host, "--port", str(args.port)]
    env = {**os.environ}
    env.pop(SIGN_IN_ENV, None)
    if args.home is not None:
        argv += ["--home", str(args.home)]
    if args.auth_config is not None:
        auth_config = args.auth_config.expanduser().resolve()
        read_auth_config(auth_config)
        if importlib.util.find_spec("authlib") is None:
            raise ValidationError("Sign-in needs Authlib: pip install 'dq-studio[team]'.")
        if _users(args.home).grants().empty:
            raise ValidationError(
                "No one holds a role in this home, so no one could sign in to anything: grant the first admin with "
                "dq users add EMAIL --role admin."
            )
        if readable_by_others(auth_config):
            print(f"dq serve: warning: {auth_config} holds secrets and other users may read it (chmod 600 it)")
        argv.append(f"--secrets.files={auth_config}")
        env[SIGN_IN_ENV] = "1"
    argv.append(f"--server.maxUploadSize={args.max_upload_mb}")
    sys.stdout.flush()
    os.execve(sys.executable, argv, env)  # the server owns the process from here
    return 0  # pragma: no cover - execve does not return
