"""AlbumStore on SQLAlchemy (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from pixstash.db.base import StoredAlbum
from pixstash.db.engine import Database
from pixstash.db.models import AlbumImageRow, AlbumRow, BlobRow, ImageRow
from pixstash.db.repository import _to_image, storable
from pixstash.domain.albums import Album
from pixstash.domain.ids import new_public_id
from pixstash.domain.model import Image, Visibility
from pixstash.errors import AlbumImagesMismatch, Conflict

_ID_ATTEMPTS = 8
_CHANGEABLE = frozenset({"title", "description", "visibility", "cover_image_id"})


def _to_album(row: AlbumRow, count: int) -> Album:
    return Album(
        id=row.id,
        owner_id=row.owner_id,
        title=row.title,
        description=row.description,
        visibility=Visibility(row.visibility),
        cover_image_id=row.cover_image_id,
        image_count=count,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


async def _count(session: AsyncSession, album_id: str) -> int:
    found = await session.scalar(
        select(func.count()).select_from(AlbumImageRow).where(AlbumImageRow.album_id == album_id)
    )
    return int(found or 0)


async def _positions(session: AsyncSession, album_id: str) -> list[AlbumImageRow]:
    rows = await session.scalars(
        select(AlbumImageRow)
        .where(AlbumImageRow.album_id == album_id)
        .order_by(AlbumImageRow.position)
    )
    return list(rows.all())


async def _existing_images(session: AsyncSession, image_ids: Sequence[str]) -> set[str]:
    if not image_ids:
        return set()
    found = await session.scalars(select(ImageRow.id).where(ImageRow.id.in_(set(image_ids))))
    return set(found.all())


def _unique(ids: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(ids))


class SqlAlbumStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create_album(
        self, album: Album, delete_token_hash: str | None, image_ids: Sequence[str]
    ) -> Album:
        for _ in range(_ID_ATTEMPTS):
            try:
                return await self._create_once(album, delete_token_hash, image_ids)
            except IntegrityError:
                album = replace(album, id=new_public_id())
        raise Conflict("Could not allocate an album id; retry.")

    async def _create_once(
        self, album: Album, delete_token_hash: str | None, image_ids: Sequence[str]
    ) -> Album:
        async with self.db.write() as session:
            session.add(
                AlbumRow(
                    id=album.id,
                    owner_id=album.owner_id,
                    delete_token_hash=delete_token_hash,
                    title=storable(album.title),
                    description=storable(album.description),
                    visibility=album.visibility.value,
                    cover_image_id=album.cover_image_id,
                    created_at=album.created_at,
                    updated_at=album.updated_at,
                )
            )
            await session.flush()  # the album row first: the links reference it
            existing = await _existing_images(session, image_ids)
            kept = [i for i in _unique(image_ids) if i in existing]
            for position, image_id in enumerate(kept):
                session.add(AlbumImageRow(album_id=album.id, image_id=image_id, position=position))
            cover = album.cover_image_id if album.cover_image_id in existing else None
        return replace(album, image_count=len(kept), cover_image_id=cover)

    async def get_album(self, album_id: str) -> StoredAlbum | None:
        async with self.db.read() as session:
            row = await session.get(AlbumRow, album_id)
            if row is None:
                return None
            return StoredAlbum(
                _to_album(row, await _count(session, album_id)), row.delete_token_hash
            )

    async def find_album_by_token(self, delete_token_hash: str) -> StoredAlbum | None:
        async with self.db.read() as session:
            row = await session.scalar(
                select(AlbumRow).where(AlbumRow.delete_token_hash == delete_token_hash).limit(1)
            )
            if row is None:
                return None
            return StoredAlbum(_to_album(row, await _count(session, row.id)), row.delete_token_hash)

    async def album_images(self, album_id: str) -> list[Image]:
        async with self.db.read() as session:
            rows = (
                await session.execute(
                    select(ImageRow, BlobRow)
                    .join(AlbumImageRow, AlbumImageRow.image_id == ImageRow.id)
                    .join(BlobRow, BlobRow.hash == ImageRow.blob_hash)
                    .where(AlbumImageRow.album_id == album_id)
                    .order_by(AlbumImageRow.position)
                )
            ).all()
        return [_to_image(image, blob) for image, blob in rows]

    async def add_album_images(
        self, album_id: str, image_ids: Sequence[str], *, at: datetime
    ) -> Album | None:
        async with self.db.write() as session:
            row = await session.get(AlbumRow, album_id, with_for_update=True)
            if row is None:
                return None
            present = await _positions(session, album_id)
            have = {link.image_id for link in present}
            existing = await _existing_images(session, image_ids)
            position = (present[-1].position + 1) if present else 0
            for image_id in _unique(image_ids):
                if image_id in have or image_id not in existing:
                    continue
                session.add(AlbumImageRow(album_id=album_id, image_id=image_id, position=position))
                position += 1
            row.updated_at = at
            await session.flush()
            return _to_album(row, await _count(session, album_id))

    async def remove_album_images(
        self, album_id: str, image_ids: Sequence[str], *, at: datetime
    ) -> Album | None:
        async with self.db.write() as session:
            row = await session.get(AlbumRow, album_id, with_for_update=True)
            if row is None:
                return None
            await session.execute(
                delete(AlbumImageRow).where(
                    AlbumImageRow.album_id == album_id, AlbumImageRow.image_id.in_(set(image_ids))
                )
            )
            if row.cover_image_id in image_ids:
                row.cover_image_id = None
            row.updated_at = at
            await session.flush()
            return _to_album(row, await _count(session, album_id))

    async def reorder_album(
        self, album_id: str, image_ids: Sequence[str], *, at: datetime
    ) -> Album | None:
        async with self.db.write() as session:
            row = await session.get(AlbumRow, album_id, with_for_update=True)
            if row is None:
                return None
            present = await _positions(session, album_id)
            if len(image_ids) != len(present) or set(image_ids) != {
                link.image_id for link in present
            }:
                raise AlbumImagesMismatch()
            # two steps, so no (album, position) pair is ever held twice mid-update
            offset = len(present) + 1
            for position, image_id in enumerate(image_ids):
                await session.execute(
                    update(AlbumImageRow)
                    .where(AlbumImageRow.album_id == album_id, AlbumImageRow.image_id == image_id)
                    .values(position=position + offset)
                    .execution_options(synchronize_session=False)
                )
            await session.execute(
                update(AlbumImageRow)
                .where(AlbumImageRow.album_id == album_id)
                .values(position=AlbumImageRow.position - offset)
                .execution_options(synchronize_session=False)
            )
            row.updated_at = at
            return _to_album(row, len(present))

    async def update_album(
        self, album_id: str, changes: dict[str, str | None], *, at: datetime
    ) -> Album | None:
        unknown = set(changes) - _CHANGEABLE
        if unknown:
            raise ValueError(f"not album fields: {sorted(unknown)}")
        async with self.db.write() as session:
            row = await session.get(AlbumRow, album_id, with_for_update=True)
            if row is None:
                return None
            for name, value in changes.items():
                setattr(row, name, storable(value) if name in ("title", "description") else value)
            row.updated_at = at
            await session.flush()
            return _to_album(row, await _count(session, album_id))

    async def list_owned_albums(self, owner_id: int, *, limit: int) -> list[Album]:
        async with self.db.read() as session:
            rows = (
                await session.scalars(
                    select(AlbumRow)
                    .where(AlbumRow.owner_id == owner_id)
                    .order_by(AlbumRow.created_at.desc(), AlbumRow.id.desc())
                    .limit(limit)
                )
            ).all()
            return [_to_album(row, await _count(session, row.id)) for row in rows]

    async def delete_album(self, album_id: str) -> bool:
        async with self.db.write() as session:
            await session.execute(delete(AlbumImageRow).where(AlbumImageRow.album_id == album_id))
            deleted = await session.execute(delete(AlbumRow).where(AlbumRow.id == album_id))
            return bool(deleted.rowcount)  # type: ignore[attr-defined]
