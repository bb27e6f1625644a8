"""Accounts: registration, password logins, web sessions, personal API tokens, and the
administrator's power to disable a user.

Passwords are hashed with argon2id (argon2-cffi's defaults, RFC 9106's low-memory
profile); a login re-hashes a password whose hash has older parameters. A login for an
unknown user still verifies a password against a dummy hash, so timing does not tell
which usernames exist. Session secrets and API tokens carry 192+ random bits: only their
SHA-256 is stored (see ``domain.ids.hash_token``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import anyio.to_thread
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from pixstash.db.base import AccountStore
from pixstash.domain.accounts import (
    PASSWORD_MAX,
    TOKEN_DISPLAY_LENGTH,
    TOKEN_NAME_MAX,
    USERNAME_MAX,
    ApiToken,
    Principal,
    User,
    WebSession,
    new_api_token,
    new_session_secret,
    password_problem,
    username_problem,
)
from pixstash.domain.ids import hash_token
from pixstash.errors import (
    AccountDisabled,
    AdminRequired,
    BadRequest,
    InvalidCredentials,
    InvalidPassword,
    InvalidToken,
    InvalidUsername,
    RegistrationClosed,
    TokenNotFound,
    UserNotFound,
)

log = logging.getLogger(__name__)

# A token's last_used_at is written at most this often: reads stay reads.
TOKEN_TOUCH_INTERVAL = timedelta(minutes=5)
# Each argon2id hash holds 64 MiB (and 4 threads) for a while: logins, registrations and
# failed attempts (which need no account) wait their turn instead of filling the thread
# pool, so a flood of them costs time, not gigabytes.
PASSWORD_HASHES_AT_ONCE = 2
SHAREX_TOKEN_NAME = "ShareX"  # noqa: S105 (a label, not a secret)


@dataclass(frozen=True, slots=True)
class NewSession:
    """A login: ``secret`` goes into the cookie and is never stored."""

    secret: str
    session: WebSession
    user: User


@dataclass(frozen=True, slots=True)
class NewToken:
    """A created API token: ``token`` is shown once and never stored."""

    token: str
    info: ApiToken


class AccountService:
    def __init__(
        self,
        store: AccountStore,
        *,
        session_seconds: int,
        registration_open: bool,
        hasher: PasswordHasher | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.store = store
        self.session_lifetime = timedelta(seconds=session_seconds)
        self.registration_open = registration_open
        self.hasher = hasher or PasswordHasher()
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        self._dummy_hash: str | None = None
        self._hashing = anyio.CapacityLimiter(PASSWORD_HASHES_AT_ONCE)

    # --- users ------------------------------------------------------------------

    async def register(
        self, username: str, password: str, *, is_admin: bool = False, operator: bool = False
    ) -> User:
        """A new account. ``operator`` (the CLI) may register while registration is closed."""
        if not (self.registration_open or operator):
            raise RegistrationClosed()
        username = username.strip()
        if problem := username_problem(username):
            raise InvalidUsername(f"Invalid username: {problem}.")
        if problem := password_problem(password):
            raise InvalidPassword(f"Invalid password: {problem}.")
        password_hash = await anyio.to_thread.run_sync(
            self.hasher.hash, password, limiter=self._hashing
        )
        user = await self.store.create_user(
            username, password_hash, is_admin=is_admin, created_at=self.clock()
        )
        log.info("registered user %s (id %d%s)", user.username, user.id, ", admin" * is_admin)
        return user

    async def user_named(self, username: str) -> User:
        user = await self.store.get_user_by_name(username.strip())
        if user is None:
            raise UserNotFound()
        return user

    async def usernames(self, user_ids: Iterable[int]) -> dict[int, str]:
        """The names of these users (unknown ids are left out): Imgur's account_url."""
        names: dict[int, str] = {}
        for user_id in set(user_ids):
            user = await self.store.get_user(user_id)
            if user is not None:
                names[user_id] = user.username
        return names

    async def authenticate(self, username: str, password: str) -> User:
        """The user with this password; the same work whether or not the user exists."""
        username = username.strip()
        user = (
            await self.store.get_user_by_name(username) if len(username) <= USERNAME_MAX else None
        )
        if len(password) > PASSWORD_MAX:
            raise InvalidCredentials()
        known_hash = user.password_hash if user is not None else await self._dummy()
        verified = await anyio.to_thread.run_sync(
            self._verify, known_hash, password, limiter=self._hashing
        )
        if user is None or not verified:
            raise InvalidCredentials()
        if user.disabled:
            raise AccountDisabled()
        if self.hasher.check_needs_rehash(user.password_hash):
            new_hash = await anyio.to_thread.run_sync(
                self.hasher.hash, password, limiter=self._hashing
            )
            await self.store.set_password_hash(user.id, new_hash)
        return user

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self.hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    async def _dummy(self) -> str:
        if self._dummy_hash is None:
            self._dummy_hash = await anyio.to_thread.run_sync(
                self.hasher.hash, new_session_secret(), limiter=self._hashing
            )
        return self._dummy_hash

    async def disable_user(self, actor: Principal | None, user_id: int) -> None:
        """``actor`` None is the operator (CLI); otherwise only an admin may do this.
        The user's sessions end and tokens are revoked in the same transaction."""
        if actor is not None and not actor.is_admin:
            raise AdminRequired()
        if not await self.store.disable_user(user_id, at=self.clock()):
            raise UserNotFound()
        log.info("disabled user %d (by %s)", user_id, actor.username if actor else "operator")

    async def disable_username(self, actor: Principal | None, username: str) -> User:
        if actor is not None and not actor.is_admin:  # before telling whether it exists
            raise AdminRequired()
        user = await self.user_named(username)
        await self.disable_user(actor, user.id)
        return user

    # --- web sessions -----------------------------------------------------------

    async def login(self, username: str, password: str) -> NewSession:
        user = await self.authenticate(username, password)
        secret = new_session_secret()
        now = self.clock()
        session = WebSession(
            id_hash=hash_token(secret),
            user_id=user.id,
            csrf_secret=new_session_secret(),
            created_at=now,
            expires_at=now + self.session_lifetime,
        )
        await self.store.create_web_session(session)
        return NewSession(secret, session, user)

    async def session_principal(self, secret: str) -> tuple[Principal, WebSession] | None:
        """Who the session cookie ``secret`` belongs to; None for an unknown, expired or
        disabled one (the visitor is anonymous)."""
        found = await self.store.find_web_session(hash_token(secret))
        if found is None:
            return None
        session, user = found
        if session.expires_at <= self.clock():
            await self.store.delete_web_session(session.id_hash)
            return None
        if user.disabled:
            return None
        return user.principal(), session

    async def logout(self, secret: str) -> None:
        await self.store.delete_web_session(hash_token(secret))

    async def forget_expired_sessions(self) -> int:
        return await self.store.delete_expired_web_sessions(before=self.clock())

    # --- API tokens -------------------------------------------------------------

    async def create_token(self, user_id: int, name: str) -> NewToken:
        name = " ".join(name.split())
        if not 1 <= len(name) <= TOKEN_NAME_MAX:
            raise BadRequest(f"A token name has 1 to {TOKEN_NAME_MAX} characters.")
        token = new_api_token()
        info = await self.store.create_api_token(
            user_id,
            name=name,
            token_hash=hash_token(token),
            prefix=token[:TOKEN_DISPLAY_LENGTH],
            created_at=self.clock(),
        )
        return NewToken(token, info)

    async def list_tokens(self, user_id: int) -> list[ApiToken]:
        return await self.store.list_api_tokens(user_id)

    async def revoke_token(self, user_id: int, token_id: int) -> None:
        if not await self.store.revoke_api_token(user_id, token_id, at=self.clock()):
            raise TokenNotFound()

    async def token_principal(self, token: str) -> Principal:
        """Who a bearer token belongs to; ``InvalidToken`` when unknown, revoked or its
        user disabled (never silently anonymous)."""
        found = await self.store.find_api_token(hash_token(token))
        if found is None:
            raise InvalidToken()
        info, user = found
        if info.revoked_at is not None or user.disabled:
            raise InvalidToken()
        now = self.clock()
        if info.last_used_at is None or info.last_used_at < now - TOKEN_TOUCH_INTERVAL:
            await self.store.touch_api_token(info.id, at=now, older_than=now - TOKEN_TOUCH_INTERVAL)
        return user.principal(token_id=info.id)
