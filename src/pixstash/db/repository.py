"""MetadataStore on SQLAlchemy (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, delete, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from pixstash.db.base import CreatedImage, DeletedImage, NewJob
from pixstash.db.engine import Database
from pixstash.db.models import AlbumImageRow, AlbumRow, BlobRow, ImageRow, JobRow, VariantRow
from pixstash.domain.formats import OutputFormat, SourceFormat
from pixstash.domain.ids import new_public_id
from pixstash.domain.model import (
    Blob,
    Image,
    ImageStatus,
    Placeholder,
    Variant,
    Visibility,
    original_key,
)
from pixstash.errors import Conflict, ImageIdTaken

_ID_ATTEMPTS = 8


def _to_image(row: ImageRow, blob: BlobRow) -> Image:
    return Image(
        id=row.id,
        blob_hash=blob.hash,
        format=SourceFormat(blob.format),
        width=blob.width,
        height=blob.height,
        frames=blob.frames,
        size=blob.size,
        title=row.title,
        description=row.description,
        visibility=Visibility(row.visibility),
        status=ImageStatus(blob.status),
        created_at=row.created_at,
        delete_token_hash=row.delete_token_hash,
        owner_id=row.owner_id,
        expires_at=row.expires_at,
        placeholder=_to_placeholder(blob.placeholder, blob.colour),
    )


def _to_placeholder(blurhash: str | None, colour: str | None) -> Placeholder | None:
    if blurhash is None or colour is None:
        return None
    return Placeholder(blurhash=blurhash, colour=colour)


def _to_blob(row: BlobRow) -> Blob:
    return Blob(
        hash=row.hash,
        format=SourceFormat(row.format),
        size=row.size,
        width=row.width,
        height=row.height,
        frames=row.frames,
        refcount=row.refcount,
        placeholder=_to_placeholder(row.placeholder, row.colour),
    )


def _to_variant(row: VariantRow) -> Variant:
    return Variant(
        blob_hash=row.blob_hash,
        name=row.name,
        format=OutputFormat(row.format),
        key=row.key,
        size=row.size,
        width=row.width,
        height=row.height,
        etag=row.etag,
    )


def storable(text: str | None) -> str | None:
    """PostgreSQL text cannot hold NUL characters; drop them on every backend alike."""
    return None if text is None else text.replace("\x00", "")


def _job_rows(jobs: Sequence[NewJob], created_at: datetime) -> list[dict[str, Any]]:
    now = time.time()
    return [
        {
            "kind": job.kind,
            "payload": json.dumps(job.payload, sort_keys=True),
            "run_after": now,
            "state": "pending",
            "attempts": 0,
            "max_attempts": 5,
            "created_at": created_at,
        }
        for job in jobs
    ]


def _add_jobs(session: AsyncSession, jobs: Sequence[NewJob]) -> None:
    now = time.time()
    for job in jobs:
        session.add(
            JobRow(kind=job.kind, payload=json.dumps(job.payload, sort_keys=True), run_after=now)
        )


_INSERT_IMAGE = insert(ImageRow)
_INSERT_JOB = insert(JobRow)


class SqlMetadataStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        # reference the blob, or create it; no row back when it is being deleted
        self._blob_upsert = (
            self._insert(BlobRow)
            .on_conflict_do_update(
                index_elements=[BlobRow.hash],
                set_={"refcount": BlobRow.refcount + 1},
                where=BlobRow.state == "active",
            )
            .returning(BlobRow.refcount, BlobRow.status, BlobRow.placeholder, BlobRow.colour)
        )

    async def create_image(
        self, image: Image, blob: Blob, jobs_if_new: Sequence[NewJob], *, fixed_id: bool = False
    ) -> CreatedImage:
        for _ in range(_ID_ATTEMPTS):
            try:
                return await self._create_image_once(image, blob, jobs_if_new)
            except IntegrityError:
                if fixed_id:
                    raise ImageIdTaken() from None
                image = replace(image, id=new_public_id())
        raise Conflict("Could not allocate an image id; retry the upload.")

    async def _create_image_once(
        self, image: Image, blob: Blob, jobs_if_new: Sequence[NewJob]
    ) -> CreatedImage:
        image = replace(image, title=storable(image.title), description=storable(image.description))
        # Core statements built once, not the ORM: this is the upload hot path.
        blob_values = {
            "hash": blob.hash,
            "format": blob.format.value,
            "size": blob.size,
            "width": blob.width,
            "height": blob.height,
            "frames": blob.frames,
            "refcount": 1,
            "state": "active",
            "status": ImageStatus.PENDING.value,
            "created_at": image.created_at,
        }
        image_values = {
            "id": image.id,
            "blob_hash": blob.hash,
            "owner_id": image.owner_id,
            "delete_token_hash": image.delete_token_hash,
            "title": image.title,
            "description": image.description,
            "visibility": image.visibility.value,
            "created_at": image.created_at,
            "expires_at": image.expires_at,
        }

        def transaction(conn: Connection) -> CreatedImage:
            counted = conn.execute(self._blob_upsert, blob_values).first()
            if counted is None:  # the conflict's WHERE failed: the blob is being deleted
                raise Conflict("Identical content is being deleted right now; retry in a moment.")
            blob_is_new = counted.refcount == 1
            conn.execute(_INSERT_IMAGE, image_values)
            if blob_is_new and jobs_if_new:
                conn.execute(_INSERT_JOB, _job_rows(jobs_if_new, image.created_at))
            created = replace(
                image,
                status=ImageStatus(counted.status),
                placeholder=_to_placeholder(counted.placeholder, counted.colour),
            )
            return CreatedImage(created, blob_is_new)

        return await self.db.run_write(transaction)

    def _insert(self, table: type[BlobRow]) -> Any:
        """The dialect's INSERT, which knows ON CONFLICT (SQLite and PostgreSQL)."""
        return sqlite_insert(table) if self.db.is_sqlite else postgresql_insert(table)

    async def get_image(self, public_id: str) -> Image | None:
        async with self.db.read() as session:
            found = (
                await session.execute(
                    select(ImageRow, BlobRow)
                    .join(BlobRow, BlobRow.hash == ImageRow.blob_hash)
                    .where(ImageRow.id == public_id)
                )
            ).first()
        return None if found is None else _to_image(found[0], found[1])

    async def delete_image(
        self, public_id: str, *, purge_job: str | None = None
    ) -> DeletedImage | None:
        async with self.db.write() as session:
            found = (
                await session.execute(
                    select(ImageRow, BlobRow)
                    .join(BlobRow, BlobRow.hash == ImageRow.blob_hash)
                    .where(ImageRow.id == public_id)
                    .with_for_update()
                )
            ).first()
            if found is None:
                return None
            image_row, blob_row = found
            image = _to_image(image_row, blob_row)
            # out of every album, and no album keeps it as its cover (migration 0005)
            await session.execute(delete(AlbumImageRow).where(AlbumImageRow.image_id == public_id))
            await session.execute(
                update(AlbumRow)
                .where(AlbumRow.cover_image_id == public_id)
                .values(cover_image_id=None)
                .execution_options(synchronize_session=False)
            )
            await session.delete(image_row)
            blob_row.refcount -= 1
            orphaned = blob_row.refcount <= 0
            if orphaned:
                blob_row.state = "deleting"
                blob_row.state_changed_at = time.time()
                if purge_job is not None:
                    _add_jobs(session, [NewJob(purge_job, {"hash": blob_row.hash})])
        return DeletedImage(image, blob_row.hash if orphaned else None)

    async def get_blob(self, content_hash: str) -> Blob | None:
        async with self.db.read() as session:
            row = await session.get(BlobRow, content_hash)
        return None if row is None or row.state != "active" else _to_blob(row)

    async def claim_purge(self, content_hash: str, *, stale_after: float) -> list[str] | None:
        now = time.time()
        async with self.db.write() as session:
            row = await session.get(BlobRow, content_hash, with_for_update=True)
            if row is None or row.state == "active":
                return None
            if row.state == "purging" and (row.state_changed_at or 0) > now - stale_after:
                return None  # another purger is at work
            row.state, row.state_changed_at = "purging", now
            keys = (
                await session.scalars(
                    select(VariantRow.key).where(VariantRow.blob_hash == content_hash)
                )
            ).all()
            return [original_key(row.hash, SourceFormat(row.format)), *keys]

    async def release_purge(self, content_hash: str) -> None:
        async with self.db.write() as session:
            await session.execute(
                update(BlobRow)
                .where(BlobRow.hash == content_hash, BlobRow.state == "purging")
                .values(state="deleting", state_changed_at=time.time())
            )

    async def forget_blob(self, content_hash: str) -> None:
        async with self.db.write() as session:
            row = await session.get(BlobRow, content_hash, with_for_update=True)
            if row is None or row.state != "purging":
                return
            await session.execute(delete(VariantRow).where(VariantRow.blob_hash == content_hash))
            await session.delete(row)

    async def blobs_to_purge(self) -> list[str]:
        async with self.db.read() as session:
            rows = await session.scalars(
                select(BlobRow.hash).where(BlobRow.state.in_(("deleting", "purging")))
            )
            return list(rows.all())

    async def key_in_use(self, key: str) -> bool:
        content_hash = key.rsplit("/", 1)[-1].split(".", 1)[0]
        async with self.db.read() as session:
            blob = await session.get(BlobRow, content_hash)
            if blob is not None:
                return True
            found = await session.scalar(select(VariantRow.blob_hash).where(VariantRow.key == key))
            return found is not None

    async def get_variant(self, content_hash: str, name: str, fmt: str) -> Variant | None:
        async with self.db.read() as session:
            row = await session.get(VariantRow, (content_hash, name, fmt))
        return None if row is None else _to_variant(row)

    async def add_variant(self, variant: Variant) -> bool:
        async with self.db.write() as session:
            blob = await session.get(BlobRow, variant.blob_hash, with_for_update=True)
            if blob is None or blob.state != "active":
                return False
            existing = await session.get(
                VariantRow, (variant.blob_hash, variant.name, variant.format.value)
            )
            if existing is None:
                session.add(
                    VariantRow(
                        blob_hash=variant.blob_hash,
                        name=variant.name,
                        format=variant.format.value,
                        key=variant.key,
                        size=variant.size,
                        width=variant.width,
                        height=variant.height,
                        etag=variant.etag,
                    )
                )
            else:  # re-rendered by a retried job: same key, bytes replaced atomically
                existing.size, existing.etag = variant.size, variant.etag
                existing.width, existing.height = variant.width, variant.height
        return True

    async def set_blob_status(self, content_hash: str, status: str) -> None:
        async with self.db.write() as session:
            await session.execute(
                update(BlobRow).where(BlobRow.hash == content_hash).values(status=status)
            )

    async def set_blob_placeholder(self, blob_hash: str, placeholder: Placeholder) -> None:
        async with self.db.write() as session:
            await session.execute(
                update(BlobRow)
                .where(BlobRow.hash == blob_hash)
                .values(placeholder=placeholder.blurhash, colour=placeholder.colour)
            )

    async def known_keys(self) -> set[str]:
        async with self.db.read() as session:
            blobs = (await session.execute(select(BlobRow.hash, BlobRow.format))).all()
            variants = (await session.scalars(select(VariantRow.key))).all()
        keys = {original_key(h, SourceFormat(f)) for h, f in blobs}
        keys.update(variants)
        return keys

    async def list_owned_images(
        self,
        owner_id: int,
        *,
        limit: int,
        after: tuple[datetime, str] | None = None,
        now: datetime | None = None,
    ) -> list[Image]:
        query = (
            select(ImageRow, BlobRow)
            .join(BlobRow, BlobRow.hash == ImageRow.blob_hash)
            .where(ImageRow.owner_id == owner_id)
        )
        if now is not None:  # expired images are gone at once, not when swept
            query = query.where(or_(ImageRow.expires_at.is_(None), ImageRow.expires_at > now))
        if after is not None:  # keyset: strictly after the last row of the previous page
            created_at, public_id = after
            query = query.where(
                or_(
                    ImageRow.created_at < created_at,
                    and_(ImageRow.created_at == created_at, ImageRow.id < public_id),
                )
            )
        query = query.order_by(ImageRow.created_at.desc(), ImageRow.id.desc()).limit(limit)
        async with self.db.read() as session:
            rows = (await session.execute(query)).all()
        return [_to_image(image, blob) for image, blob in rows]

    async def update_image_text(
        self, public_id: str, *, title: str | None, description: str | None
    ) -> Image | None:
        async with self.db.write() as session:
            changed = await session.execute(
                update(ImageRow)
                .where(ImageRow.id == public_id)
                .values(title=storable(title), description=storable(description))
                .execution_options(synchronize_session=False)
            )
            if changed.rowcount != 1:  # type: ignore[attr-defined]
                return None
        return await self.get_image(public_id)

    async def update_image_visibility(self, public_id: str, visibility: Visibility) -> Image | None:
        async with self.db.write() as session:
            changed = await session.execute(
                update(ImageRow)
                .where(ImageRow.id == public_id)
                .values(visibility=visibility.value)
                .execution_options(synchronize_session=False)
            )
            if changed.rowcount != 1:  # type: ignore[attr-defined]
                return None
        return await self.get_image(public_id)

    async def list_public_images(
        self, *, now: datetime, limit: int, after: tuple[datetime, str] | None = None
    ) -> list[Image]:
        query = (
            select(ImageRow, BlobRow)
            .join(BlobRow, BlobRow.hash == ImageRow.blob_hash)
            .where(
                ImageRow.visibility == Visibility.PUBLIC.value,
                or_(ImageRow.expires_at.is_(None), ImageRow.expires_at > now),
            )
        )
        if after is not None:  # keyset, as list_owned_images
            created_at, public_id = after
            query = query.where(
                or_(
                    ImageRow.created_at < created_at,
                    and_(ImageRow.created_at == created_at, ImageRow.id < public_id),
                )
            )
        query = query.order_by(ImageRow.created_at.desc(), ImageRow.id.desc()).limit(limit)
        async with self.db.read() as session:
            rows = (await session.execute(query)).all()
        return [_to_image(image, blob) for image, blob in rows]

    async def find_image_by_delete_token(self, delete_token_hash: str) -> Image | None:
        async with self.db.read() as session:
            found = (
                await session.execute(
                    select(ImageRow, BlobRow)
                    .join(BlobRow, BlobRow.hash == ImageRow.blob_hash)
                    .where(ImageRow.delete_token_hash == delete_token_hash)
                    .limit(1)
                )
            ).first()
        return None if found is None else _to_image(found[0], found[1])

    async def expired_image_ids(self, *, now: datetime, limit: int) -> list[str]:
        async with self.db.read() as session:
            found = await session.scalars(
                select(ImageRow.id)
                .where(ImageRow.expires_at.is_not(None), ImageRow.expires_at <= now)
                .order_by(ImageRow.expires_at)
                .limit(limit)
            )
            return list(found.all())

    async def ping(self) -> None:
        await self.db.ping()
