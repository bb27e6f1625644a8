"""Accounts: who is asking (Principal), users, API tokens and web sessions.

A ``Principal`` is what the web layer hands to services: the authenticated user, whether
they are an admin, and the API token they used (``None`` for a browser session).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime

USERNAME_MIN = 3
USERNAME_MAX = 32
PASSWORD_MIN = 8
PASSWORD_MAX = 1024
TOKEN_NAME_MAX = 100
_USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")

# Personal API tokens start with this, so secret scanners and people can recognise them.
API_TOKEN_PREFIX = "pxs_"  # noqa: S105 (a marker, not a secret)
# How many characters of a token a list shows (the prefix and a few random characters).
TOKEN_DISPLAY_LENGTH = len(API_TOKEN_PREFIX) + 6


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: int
    username: str
    is_admin: bool
    token_id: int | None = None  # set when authenticated by an API token


@dataclass(frozen=True, slots=True)
class User:
    id: int
    username: str
    is_admin: bool
    disabled: bool
    created_at: datetime
    password_hash: str = field(repr=False)

    def principal(self, token_id: int | None = None) -> Principal:
        return Principal(self.id, self.username, self.is_admin, token_id)


@dataclass(frozen=True, slots=True)
class ApiToken:
    id: int
    user_id: int
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class WebSession:
    """A server-side browser session; the cookie holds a secret whose hash is ``id_hash``."""

    id_hash: str = field(repr=False)
    user_id: int
    csrf_secret: str = field(repr=False)
    created_at: datetime
    expires_at: datetime


def new_api_token() -> str:
    """A personal API token: a recognisable prefix and 192 random bits."""
    return API_TOKEN_PREFIX + secrets.token_urlsafe(24)


def new_session_secret() -> str:
    return secrets.token_urlsafe(32)


def username_problem(username: str) -> str | None:
    """Why ``username`` cannot be used, or ``None`` when it can."""
    if not USERNAME_MIN <= len(username) <= USERNAME_MAX:
        return f"a username is {USERNAME_MIN} to {USERNAME_MAX} characters"
    if not _USERNAME.fullmatch(username):
        return "a username uses letters, digits, '.', '_' and '-' and starts with a letter or digit"
    return None


def password_problem(password: str) -> str | None:
    """Why ``password`` cannot be used, or ``None`` when it can."""
    if len(password) < PASSWORD_MIN:
        return f"a password has at least {PASSWORD_MIN} characters"
    if len(password) > PASSWORD_MAX:
        return f"a password has at most {PASSWORD_MAX} characters"
    return None
