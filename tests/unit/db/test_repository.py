"""SqlMetadataStore: rows become value objects, writes land where reads find them."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import StatementError

from pixstash.db.base import NewJob
from pixstash.db.engine import Database
from pixstash.db.models import JobRow
from pixstash.db.repository import SqlMetadataStore
from pixstash.domain.formats import SourceFormat
from pixstash.domain.ids import hash_token, new_public_id
from pixstash.domain.model import Blob, Image, ImageStatus, Placeholder, Visibility
from pixstash.errors import Conflict

pytestmark = pytest.mark.anyio

BLOB = Blob(hash="ab" * 32, format=SourceFormat.JPEG, size=1234, width=640, height=480, frames=1)
PLACEHOLDER = Placeholder(blurhash="LVHLl1t7~qxut7j[ofj[~qofofof", colour="#7b7b7b")


def new_image(blob: Blob = BLOB) -> Image:
    return Image(
        id=new_public_id(),
        blob_hash=blob.hash,
        format=blob.format,
        width=blob.width,
        height=blob.height,
        frames=blob.frames,
        size=blob.size,
        title=None,
        description=None,
        visibility=Visibility.UNLISTED,
        status=ImageStatus.PENDING,
        created_at=datetime.now(UTC),
        delete_token_hash=hash_token("token"),
    )


async def test_set_blob_placeholder_round_trips_into_images_and_blobs(db: Database) -> None:
    meta = SqlMetadataStore(db)
    first = (await meta.create_image(new_image(), BLOB, [])).image
    assert first.placeholder is None
    stored = await meta.get_image(first.id)
    assert stored is not None
    assert stored.placeholder is None
    blob = await meta.get_blob(BLOB.hash)
    assert blob is not None
    assert blob.placeholder is None

    await meta.set_blob_placeholder(BLOB.hash, PLACEHOLDER)

    stored = await meta.get_image(first.id)
    assert stored is not None
    assert stored.placeholder == PLACEHOLDER
    blob = await meta.get_blob(BLOB.hash)
    assert blob is not None
    assert blob.placeholder == PLACEHOLDER
    # identical content uploaded again shares the blob, and its placeholder at once
    again = (await meta.create_image(new_image(), BLOB, [])).image
    assert again.placeholder == PLACEHOLDER


async def test_set_blob_placeholder_again_replaces_it(db: Database) -> None:
    meta = SqlMetadataStore(db)
    image = (await meta.create_image(new_image(), BLOB, [])).image
    await meta.set_blob_placeholder(BLOB.hash, PLACEHOLDER)
    newer = Placeholder(blurhash="LDTI:j]9fQ]9|co1fQo1fQfQfQfQ", colour="#ff0000")
    await meta.set_blob_placeholder(BLOB.hash, newer)  # a retried job
    stored = await meta.get_image(image.id)
    assert stored is not None
    assert stored.placeholder == newer


async def test_set_blob_placeholder_of_an_unknown_blob_changes_nothing(db: Database) -> None:
    meta = SqlMetadataStore(db)
    await meta.set_blob_placeholder("cd" * 32, PLACEHOLDER)
    assert await meta.get_blob("cd" * 32) is None


async def test_timestamps_round_trip_as_aware_utc(db: Database) -> None:
    meta = SqlMetadataStore(db)
    paris = timezone(timedelta(hours=1))
    created = datetime(2026, 11, 30, 13, 14, 15, 123456, tzinfo=paris)
    expires = datetime(2027, 1, 1, 0, 0, 0, 1, tzinfo=UTC)
    image = replace(new_image(), created_at=created, expires_at=expires)
    await meta.create_image(image, BLOB, [])
    stored = await meta.get_image(image.id)
    assert stored is not None
    assert stored.created_at == created  # the same instant, to the microsecond...
    assert stored.created_at.tzinfo == UTC  # ...given back in UTC
    assert stored.expires_at == expires
    assert stored.expires_at is not None
    assert stored.expires_at.tzinfo == UTC


async def test_a_naive_timestamp_is_refused(db: Database) -> None:
    meta = SqlMetadataStore(db)
    naive = replace(new_image(), created_at=datetime(2026, 11, 30, 12, 0))
    with pytest.raises(StatementError, match="naive datetime"):
        await meta.create_image(naive, BLOB, [])


async def test_identical_uploads_at_once_share_one_blob_and_one_job(db: Database) -> None:
    meta = SqlMetadataStore(db)
    jobs = [NewJob("process", {"hash": BLOB.hash})]
    created = await asyncio.gather(*(meta.create_image(new_image(), BLOB, jobs) for _ in range(10)))
    assert sum(c.blob_is_new for c in created) == 1
    blob = await meta.get_blob(BLOB.hash)
    assert blob is not None
    assert blob.refcount == 10
    async with db.read() as session:
        assert await session.scalar(select(func.count()).select_from(JobRow)) == 1


async def test_identical_content_being_deleted_is_a_conflict(db: Database) -> None:
    meta = SqlMetadataStore(db)
    image = (await meta.create_image(new_image(), BLOB, [])).image
    deleted = await meta.delete_image(image.id, purge_job="purge")
    assert deleted is not None
    assert deleted.orphaned_hash == BLOB.hash
    with pytest.raises(Conflict):
        await meta.create_image(new_image(), BLOB, [])
    assert await meta.blobs_to_purge() == [BLOB.hash]


async def test_nul_characters_in_text_are_dropped_on_every_backend(db: Database) -> None:
    meta = SqlMetadataStore(db)  # PostgreSQL text cannot hold them at all
    image = replace(new_image(), title="a\x00b", description="\x00c\x00")
    created = (await meta.create_image(image, BLOB, [])).image
    assert (created.title, created.description) == ("ab", "c")
    stored = await meta.get_image(image.id)
    assert stored is not None
    assert (stored.title, stored.description) == ("ab", "c")
