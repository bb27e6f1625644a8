"""AccountService on a real metadata database (SQLite and PostgreSQL): passwords,
sessions, tokens, disabling."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from argon2 import PasswordHasher

from pixstash.db.accounts import SqlAccountStore
from pixstash.db.engine import Database
from pixstash.errors import (
    AccountDisabled,
    AdminRequired,
    InvalidCredentials,
    InvalidPassword,
    InvalidToken,
    InvalidUsername,
    RegistrationClosed,
    UsernameTaken,
    UserNotFound,
)
from pixstash.services.accounts import TOKEN_TOUCH_INTERVAL, AccountService

pytestmark = pytest.mark.anyio
PASSWORD = "correct horse battery"


class CountingHasher(PasswordHasher):
    """Cheap parameters, and a count of verifications."""

    def __init__(self, time_cost: int = 1) -> None:
        super().__init__(time_cost=time_cost, memory_cost=1024, parallelism=1)
        self.verified = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        self.verified += 1
        return super().verify(hash, password)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 14, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def store(db: Database) -> SqlAccountStore:
    return SqlAccountStore(db)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def accounts(store: SqlAccountStore, clock: Clock) -> AccountService:
    service = AccountService(
        store, session_seconds=3600, registration_open=True, hasher=CountingHasher()
    )
    service.clock = clock
    return service


async def test_register_checks_names_and_passwords(accounts: AccountService) -> None:
    for name in ("ab", "x" * 33, "-ada", "ada lovelace", "ädä"):
        with pytest.raises(InvalidUsername):
            await accounts.register(name, PASSWORD)
    for password in ("short", "x" * 7, "x" * 1025):
        with pytest.raises(InvalidPassword):
            await accounts.register("ada", password)
    await accounts.register("ada", "x" * 8)
    await accounts.register("bob", "x" * 1024)
    with pytest.raises(UsernameTaken):
        await accounts.register("ADA", PASSWORD)


async def test_closed_registration_is_for_the_operator_only(
    store: SqlAccountStore, clock: Clock
) -> None:
    closed = AccountService(
        store, session_seconds=3600, registration_open=False, hasher=CountingHasher()
    )
    with pytest.raises(RegistrationClosed):
        await closed.register("ada", PASSWORD)
    assert (await closed.register("ada", PASSWORD, operator=True)).username == "ada"


async def test_passwords_are_argon2id_hashes(accounts: AccountService) -> None:
    user = await accounts.register("ada", PASSWORD)
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash
    assert (await accounts.authenticate("Ada", PASSWORD)).id == user.id
    with pytest.raises(InvalidCredentials):
        await accounts.authenticate("ada", PASSWORD + "!")


async def test_unknown_users_cost_a_verification_too(accounts: AccountService) -> None:
    await accounts.register("ada", PASSWORD)
    hasher = accounts.hasher
    assert isinstance(hasher, CountingHasher)
    before = hasher.verified
    with pytest.raises(InvalidCredentials):
        await accounts.authenticate("nobody", PASSWORD)
    assert hasher.verified == before + 1  # against a dummy hash: no early answer
    with pytest.raises(InvalidCredentials):
        await accounts.authenticate("ada", "wrong password")
    assert hasher.verified == before + 2


async def test_a_login_rehashes_outdated_parameters(
    accounts: AccountService, store: SqlAccountStore
) -> None:
    user = await accounts.register("ada", PASSWORD)
    stronger = CountingHasher(time_cost=2)
    assert stronger.check_needs_rehash(user.password_hash)
    accounts.hasher = stronger
    await accounts.authenticate("ada", PASSWORD)
    stored = await store.get_user(user.id)
    assert stored is not None
    assert stored.password_hash != user.password_hash
    assert not stronger.check_needs_rehash(stored.password_hash)
    assert stronger.verify(stored.password_hash, PASSWORD)


async def test_disabled_users_cannot_log_in(accounts: AccountService) -> None:
    user = await accounts.register("ada", PASSWORD)
    await accounts.disable_user(None, user.id)
    with pytest.raises(AccountDisabled):
        await accounts.authenticate("ada", PASSWORD)
    with pytest.raises(InvalidCredentials):  # the password is checked first
        await accounts.authenticate("ada", "wrong password")


async def test_sessions_expire(accounts: AccountService, clock: Clock) -> None:
    await accounts.register("ada", PASSWORD)
    login = await accounts.login("ada", PASSWORD)
    found = await accounts.session_principal(login.secret)
    assert found is not None
    assert found[0].username == "ada"
    assert found[0].token_id is None
    assert await accounts.session_principal("not-a-session") is None
    clock.now += timedelta(seconds=3601)
    assert await accounts.session_principal(login.secret) is None
    assert await accounts.forget_expired_sessions() == 0  # the expired one went already


async def test_disabling_ends_sessions_and_revokes_tokens(accounts: AccountService) -> None:
    admin = await accounts.register("root", PASSWORD, is_admin=True)
    user = await accounts.register("ada", PASSWORD)
    login = await accounts.login("ada", PASSWORD)
    token = await accounts.create_token(user.id, "t")
    with pytest.raises(AdminRequired):
        await accounts.disable_user(user.principal(), admin.id)
    with pytest.raises(UserNotFound):
        await accounts.disable_user(admin.principal(), 9999)
    await accounts.disable_user(admin.principal(), user.id)
    assert await accounts.session_principal(login.secret) is None
    with pytest.raises(InvalidToken):
        await accounts.token_principal(token.token)
    assert await accounts.list_tokens(user.id) == []


async def test_token_use_is_recorded_rarely(
    accounts: AccountService, store: SqlAccountStore, clock: Clock
) -> None:
    user = await accounts.register("ada", PASSWORD)
    token = await accounts.create_token(user.id, "  my   script ")
    assert token.info.name == "my script"
    principal = await accounts.token_principal(token.token)
    assert principal.token_id == token.info.id
    first = (await accounts.list_tokens(user.id))[0].last_used_at
    assert first == clock.now
    clock.now += TOKEN_TOUCH_INTERVAL - timedelta(seconds=1)
    await accounts.token_principal(token.token)
    assert (await accounts.list_tokens(user.id))[0].last_used_at == first
    clock.now += timedelta(seconds=2)
    await accounts.token_principal(token.token)
    assert (await accounts.list_tokens(user.id))[0].last_used_at == clock.now
