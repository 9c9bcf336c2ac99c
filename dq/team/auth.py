"""The checks ``dq serve`` makes before it listens: the sign-in settings file, and where it may listen.

The settings file is Streamlit's: a TOML file with an ``[auth]`` section (``redirect_uri``,
``cookie_secret``, ``client_id``, ``client_secret``, ``server_metadata_url``) that any OIDC provider
fills in (Google, Microsoft, Okta, Keycloak...). Its values are secrets: no message here ever
quotes one, only the names of the keys that are missing or wrong.
"""

from __future__ import annotations

import ipaddress
import os
import stat
import tomllib
from pathlib import Path
from typing import Any

from dq.errors import ValidationError

#: The keys the ``[auth]`` section must give (Streamlit's st.login, one OIDC provider).
AUTH_KEYS: tuple[str, ...] = ("redirect_uri", "cookie_secret", "client_id", "client_secret", "server_metadata_url")
#: The fewest characters of a cookie secret (it signs the sign-in cookie): 32 random characters.
MIN_COOKIE_SECRET = 32
LOOPBACK_NAMES = ("localhost",)
#: Environment variable ``dq serve`` sets for the console: "1" asks every visitor to sign in.
SIGN_IN_ENV = "DQ_SIGN_IN"


def is_loopback(host: str) -> bool:
    """Whether ``host`` is this machine only (127.0.0.0/8, ::1, localhost).

    >>> is_loopback("127.0.0.1"), is_loopback("::1"), is_loopback("0.0.0.0"), is_loopback("10.0.0.5")
    (True, True, False, False)
    """
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name other than localhost may resolve anywhere


def check_listen(host: str, auth_config: Path | None) -> None:
    """Refuse, in one line, to serve anything but this machine without sign-in."""
    if auth_config is None and not is_loopback(host):
        raise ValidationError(
            f"Listening on {host} needs sign-in: give --auth-config FILE (an [auth] section for "
            "your OIDC provider, see docs/deploy.md), or listen on 127.0.0.1."
        )


def read_auth_config(path: Path) -> dict[str, Any]:
    """The settings file at ``path``, checked: a readable TOML file whose ``[auth]`` section gives
    every key of ``AUTH_KEYS`` (non-empty text), a ``redirect_uri`` ending in ``/oauth2callback``
    and a cookie secret of at least ``MIN_COOKIE_SECRET`` characters. Errors name keys, never values."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise ValidationError(f"The auth config {path} does not exist or is not a file.")
    try:
        with path.open("rb") as f:
            config = tomllib.load(f)
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationError(f"The auth config {path} cannot be read ({type(exc).__name__}).") from None
    except tomllib.TOMLDecodeError as exc:
        # The decoder's message says where (line, column), not what: no secret is repeated.
        where = str(exc).split("(")[-1].rstrip(")")
        raise ValidationError(f"The auth config {path} is not valid TOML ({where}).") from None
    auth = config.get("auth")
    if not isinstance(auth, dict):
        raise ValidationError(f"The auth config {path} has no [auth] section (keys: {', '.join(AUTH_KEYS)}).")
    missing = [k for k in AUTH_KEYS if not (isinstance(auth.get(k), str) and auth[k].strip())]
    if missing:
        raise ValidationError(f"The [auth] section of {path} must give {', '.join(missing)} (non-empty text).")
    if not auth["redirect_uri"].rstrip().endswith("/oauth2callback"):
        raise ValidationError(
            f"The redirect_uri in {path} must end with /oauth2callback (the console's address + /oauth2callback)."
        )
    if len(auth["cookie_secret"]) < MIN_COOKIE_SECRET:
        raise ValidationError(
            f"The cookie_secret in {path} must be at least {MIN_COOKIE_SECRET} characters "
            '(make one: python -c "import secrets; print(secrets.token_urlsafe(32))").'
        )
    return config


def readable_by_others(path: Path) -> bool:
    """Whether every user of the machine may read ``path`` (a secrets file should be the owner's
    and, at most, the service group's)."""
    return bool(os.stat(path).st_mode & stat.S_IROTH)
