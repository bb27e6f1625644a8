"""UploadSessionStore on SQLAlchemy (SQLite and PostgreSQL)."""

from __future__ import annotations

import time
from datetime import datetime

from sqlalchemy import ColumnElement, delete, func, or_, select, update

from pixstash.db.base import UploadSession, UploadState
from pixstash.db.engine import Database
from pixstash.db.models import UploadSessionRow
from pixstash.db.repository import storable


def _to_session(row: UploadSessionRow) -> UploadSession:
    return UploadSession(
        id=row.id,
        key=row.key,
        filename=row.filename,
        content_type=row.content_type,
        size=row.size,
        state=UploadState(row.state),
        created_at=row.created_at,
        expires_at=row.expires_at,
        title=row.title,
        description=row.description,
        image_id=row.image_id,
        owner_id=row.owner_id,
        visibility=row.visibility,
        expires_in=row.expires_in,
    )


_UNFINISHED = (UploadState.PENDING.value, UploadState.COMPLETING.value)
_FINISHED = (UploadState.COMPLETED.value, UploadState.FAILED.value)


def _stale(expired_before: datetime, finished_before: datetime) -> ColumnElement[bool]:
    """Unfinished sessions past their expiry, finished ones past their retention."""
    return or_(
        UploadSessionRow.state.in_(_UNFINISHED) & (UploadSessionRow.expires_at < expired_before),
        UploadSessionRow.state.in_(_FINISHED)
        & (func.coalesce(UploadSessionRow.state_changed_at, 0.0) < finished_before.timestamp()),
    )


class SqlUploadSessionStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create_upload_session(self, session: UploadSession) -> None:
        async with self.db.write() as db_session:
            db_session.add(
                UploadSessionRow(
                    id=session.id,
                    key=session.key,
                    filename=storable(session.filename),
                    content_type=session.content_type,
                    size=session.size,
                    title=storable(session.title),
                    description=storable(session.description),
                    state=session.state.value,
                    state_changed_at=time.time(),
                    image_id=session.image_id,
                    created_at=session.created_at,
                    expires_at=session.expires_at,
                    owner_id=session.owner_id,
                    visibility=session.visibility,
                    expires_in=session.expires_in,
                )
            )

    async def get_upload_session(self, session_id: str) -> UploadSession | None:
        async with self.db.read() as db_session:
            row = await db_session.get(UploadSessionRow, session_id)
        return None if row is None else _to_session(row)

    async def claim_upload_session(
        self, session_id: str, *, stale_after: float
    ) -> UploadSession | None:
        now = time.time()
        # One conditional UPDATE: of two concurrent completers exactly one matches.
        claimable = or_(
            UploadSessionRow.state == UploadState.PENDING.value,
            (UploadSessionRow.state == UploadState.COMPLETING.value)
            & (UploadSessionRow.state_changed_at < now - stale_after),
        )
        async with self.db.write() as db_session:
            claimed = await db_session.execute(
                update(UploadSessionRow)
                .where(UploadSessionRow.id == session_id, claimable)
                .values(state=UploadState.COMPLETING.value, state_changed_at=now)
                .execution_options(synchronize_session=False)
            )
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                return None
            row = await db_session.get(UploadSessionRow, session_id, populate_existing=True)
        return None if row is None else _to_session(row)

    async def finish_upload_session(
        self, session_id: str, state: UploadState, *, image_id: str | None = None
    ) -> None:
        async with self.db.write() as db_session:
            await db_session.execute(
                update(UploadSessionRow)
                .where(
                    UploadSessionRow.id == session_id,
                    UploadSessionRow.state == UploadState.COMPLETING.value,
                )
                .values(state=state.value, state_changed_at=time.time(), image_id=image_id)
                .execution_options(synchronize_session=False)
            )

    async def open_upload_keys(self, *, expiring_after: datetime) -> set[str]:
        async with self.db.read() as db_session:
            keys = await db_session.scalars(
                select(UploadSessionRow.key).where(
                    UploadSessionRow.state.in_(_UNFINISHED),
                    UploadSessionRow.expires_at > expiring_after,
                )
            )
            return set(keys)

    async def count_stale_upload_sessions(
        self, *, expired_before: datetime, finished_before: datetime
    ) -> int:
        async with self.db.read() as db_session:
            count = await db_session.scalar(
                select(func.count())
                .select_from(UploadSessionRow)
                .where(_stale(expired_before, finished_before))
            )
        return int(count or 0)

    async def delete_stale_upload_sessions(
        self, *, expired_before: datetime, finished_before: datetime
    ) -> int:
        async with self.db.write() as db_session:
            deleted = await db_session.execute(
                delete(UploadSessionRow)
                .where(_stale(expired_before, finished_before))
                .execution_options(synchronize_session=False)
            )
        return int(deleted.rowcount)  # type: ignore[attr-defined]
