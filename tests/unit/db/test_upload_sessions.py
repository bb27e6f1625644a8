"""SqlUploadSessionStore: what garbage collection asks of upload sessions, on every backend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pixstash.db.base import UploadSession, UploadState
from pixstash.db.engine import Database
from pixstash.db.upload_sessions import SqlUploadSessionStore

pytestmark = pytest.mark.anyio

NOW = datetime.now(UTC).replace(microsecond=0)
HOUR = timedelta(hours=1)


def session(name: str, *, expires_in: timedelta) -> UploadSession:
    return UploadSession(
        id=name,
        key=f"incoming/{name}",
        filename=None,
        content_type="image/png",
        size=10,
        state=UploadState.PENDING,
        created_at=NOW + expires_in - HOUR,
        expires_at=NOW + expires_in,
    )


async def add(store: SqlUploadSessionStore, name: str, expires_in: timedelta) -> None:
    await store.create_upload_session(session(name, expires_in=expires_in))


async def test_open_keys_are_those_of_unfinished_sessions_not_expired(db: Database) -> None:
    store = SqlUploadSessionStore(db)
    await add(store, "pending", HOUR)
    await add(store, "completing", HOUR)
    await add(store, "completed", HOUR)
    await add(store, "failed", HOUR)
    await add(store, "expired", -HOUR)
    assert await store.claim_upload_session("completing", stale_after=600) is not None
    assert await store.claim_upload_session("completed", stale_after=600) is not None
    await store.finish_upload_session("completed", UploadState.COMPLETED, image_id="abcdefg")
    assert await store.claim_upload_session("failed", stale_after=600) is not None
    await store.finish_upload_session("failed", UploadState.FAILED)

    assert await store.open_upload_keys(expiring_after=NOW) == {
        "incoming/pending",
        "incoming/completing",
    }
    # still open for a while after it expired (completing gets a second period)
    assert "incoming/expired" in await store.open_upload_keys(expiring_after=NOW - 2 * HOUR)
    assert await store.open_upload_keys(expiring_after=NOW + 2 * HOUR) == set()


async def test_stale_sessions_are_counted_then_deleted(db: Database) -> None:
    store = SqlUploadSessionStore(db)
    await add(store, "open", HOUR)
    await add(store, "expired", -HOUR)
    await add(store, "expired-completing", -HOUR)
    await add(store, "completed", HOUR)
    await add(store, "failed", HOUR)
    assert await store.claim_upload_session("expired-completing", stale_after=600) is not None
    assert await store.claim_upload_session("completed", stale_after=600) is not None
    await store.finish_upload_session("completed", UploadState.COMPLETED, image_id="abcdefg")
    assert await store.claim_upload_session("failed", stale_after=600) is not None
    await store.finish_upload_session("failed", UploadState.FAILED)

    # finished just now: kept for the retention
    recent = {"expired_before": NOW, "finished_before": datetime.now(UTC) - HOUR}
    assert await store.count_stale_upload_sessions(**recent) == 2
    assert await store.delete_stale_upload_sessions(**recent) == 2
    assert await store.get_upload_session("expired") is None
    assert await store.get_upload_session("expired-completing") is None
    assert await store.get_upload_session("completed") is not None

    later = {"expired_before": NOW, "finished_before": datetime.now(UTC) + HOUR}
    assert await store.count_stale_upload_sessions(**later) == 2
    assert await store.delete_stale_upload_sessions(**later) == 2
    assert await store.get_upload_session("completed") is None
    assert await store.get_upload_session("failed") is None
    opened = await store.get_upload_session("open")
    assert opened is not None
    assert opened.state is UploadState.PENDING
    assert await store.delete_stale_upload_sessions(**later) == 0
