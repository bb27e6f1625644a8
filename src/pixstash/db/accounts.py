"""AccountStore on SQLAlchemy (SQLite and PostgreSQL): users, API tokens, web sessions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import IntegrityError

from pixstash.db.engine import Database
from pixstash.db.models import ApiTokenRow, UserRow, WebSessionRow
from pixstash.domain.accounts import ApiToken, User, WebSession
from pixstash.errors import UsernameTaken


def _to_user(row: UserRow) -> User:
    return User(
        id=row.id,
        username=row.username,
        is_admin=row.is_admin,
        disabled=row.disabled,
        created_at=row.created_at,
        password_hash=row.password_hash,
    )


def _to_token(row: ApiTokenRow) -> ApiToken:
    return ApiToken(
        id=row.id,
        user_id=row.user_id,
        name=row.name,
        prefix=row.prefix,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )


def _to_session(row: WebSessionRow) -> WebSession:
    return WebSession(
        id_hash=row.id,
        user_id=row.user_id,
        csrf_secret=row.csrf_secret,
        created_at=row.created_at,
        expires_at=row.expires_at,
    )


def username_key(username: str) -> str:
    return username.lower()


class SqlAccountStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # --- users ------------------------------------------------------------------

    async def create_user(
        self, username: str, password_hash: str, *, is_admin: bool, created_at: datetime
    ) -> User:
        row = UserRow(
            username=username,
            username_key=username_key(username),
            password_hash=password_hash,
            is_admin=is_admin,
            disabled=False,
            created_at=created_at,
        )
        try:
            async with self.db.write() as session:
                session.add(row)
                await session.flush()
        except IntegrityError:
            raise UsernameTaken() from None
        return _to_user(row)

    async def get_user(self, user_id: int) -> User | None:
        async with self.db.read() as session:
            row = await session.get(UserRow, user_id)
        return None if row is None else _to_user(row)

    async def get_user_by_name(self, username: str) -> User | None:
        async with self.db.read() as session:
            row = await session.scalar(
                select(UserRow).where(UserRow.username_key == username_key(username))
            )
        return None if row is None else _to_user(row)

    async def set_password_hash(self, user_id: int, password_hash: str) -> None:
        async with self.db.write() as session:
            await session.execute(
                update(UserRow).where(UserRow.id == user_id).values(password_hash=password_hash)
            )

    async def disable_user(self, user_id: int, *, at: datetime) -> bool:
        async with self.db.write() as session:
            changed = await session.execute(
                update(UserRow).where(UserRow.id == user_id).values(disabled=True)
            )
            if changed.rowcount != 1:  # type: ignore[attr-defined]
                return False
            await session.execute(delete(WebSessionRow).where(WebSessionRow.user_id == user_id))
            await session.execute(
                update(ApiTokenRow)
                .where(ApiTokenRow.user_id == user_id, ApiTokenRow.revoked_at.is_(None))
                .values(revoked_at=at)
            )
        return True

    # --- API tokens -------------------------------------------------------------

    async def create_api_token(
        self, user_id: int, *, name: str, token_hash: str, prefix: str, created_at: datetime
    ) -> ApiToken:
        row = ApiTokenRow(
            user_id=user_id,
            name=name,
            token_hash=token_hash,
            prefix=prefix,
            created_at=created_at,
        )
        async with self.db.write() as session:
            session.add(row)
            await session.flush()
        return _to_token(row)

    async def list_api_tokens(self, user_id: int) -> list[ApiToken]:
        async with self.db.read() as session:
            rows = await session.scalars(
                select(ApiTokenRow)
                .where(ApiTokenRow.user_id == user_id, ApiTokenRow.revoked_at.is_(None))
                .order_by(ApiTokenRow.created_at.desc(), ApiTokenRow.id.desc())
            )
            return [_to_token(row) for row in rows]

    async def revoke_api_token(self, user_id: int, token_id: int, *, at: datetime) -> bool:
        async with self.db.write() as session:
            revoked = await session.execute(
                update(ApiTokenRow)
                .where(
                    ApiTokenRow.id == token_id,
                    ApiTokenRow.user_id == user_id,
                    ApiTokenRow.revoked_at.is_(None),
                )
                .values(revoked_at=at)
            )
        return bool(revoked.rowcount == 1)  # type: ignore[attr-defined]

    async def find_api_token(self, token_hash: str) -> tuple[ApiToken, User] | None:
        async with self.db.read() as session:
            found = (
                await session.execute(
                    select(ApiTokenRow, UserRow)
                    .join(UserRow, UserRow.id == ApiTokenRow.user_id)
                    .where(ApiTokenRow.token_hash == token_hash)
                )
            ).first()
        return None if found is None else (_to_token(found[0]), _to_user(found[1]))

    async def touch_api_token(self, token_id: int, *, at: datetime, older_than: datetime) -> None:
        async with self.db.write() as session:
            await session.execute(
                update(ApiTokenRow)
                .where(
                    ApiTokenRow.id == token_id,
                    or_(ApiTokenRow.last_used_at.is_(None), ApiTokenRow.last_used_at < older_than),
                )
                .values(last_used_at=at)
            )

    # --- web sessions -----------------------------------------------------------

    async def create_web_session(self, session: WebSession) -> None:
        async with self.db.write() as db_session:
            db_session.add(
                WebSessionRow(
                    id=session.id_hash,
                    user_id=session.user_id,
                    csrf_secret=session.csrf_secret,
                    created_at=session.created_at,
                    expires_at=session.expires_at,
                )
            )

    async def find_web_session(self, id_hash: str) -> tuple[WebSession, User] | None:
        async with self.db.read() as session:
            found = (
                await session.execute(
                    select(WebSessionRow, UserRow)
                    .join(UserRow, UserRow.id == WebSessionRow.user_id)
                    .where(WebSessionRow.id == id_hash)
                )
            ).first()
        return None if found is None else (_to_session(found[0]), _to_user(found[1]))

    async def delete_web_session(self, id_hash: str) -> None:
        async with self.db.write() as session:
            await session.execute(delete(WebSessionRow).where(WebSessionRow.id == id_hash))

    async def delete_expired_web_sessions(self, *, before: datetime) -> int:
        async with self.db.write() as session:
            deleted = await session.execute(
                delete(WebSessionRow).where(WebSessionRow.expires_at < before)
            )
        return int(deleted.rowcount)  # type: ignore[attr-defined]
