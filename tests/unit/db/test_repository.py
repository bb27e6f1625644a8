"""SqlMetadataStore: rows become value objects, writes land where reads find them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pixstash.db.engine import Database
from pixstash.db.repository import SqlMetadataStore
from pixstash.domain.formats import SourceFormat
from pixstash.domain.ids import hash_token, new_public_id
from pixstash.domain.model import Blob, Image, ImageStatus, Placeholder, Visibility

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
