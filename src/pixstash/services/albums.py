"""Albums: ordered sets of images with a title, description, visibility and cover.

Who may do what:

- see an album: anyone with the link, but a private album only its owner and admins
  (everyone else gets album-not-found, as if it did not exist);
- change or delete it (its *editors*): the owner, an admin, or whoever holds the delete
  token of an anonymous album;
- put an image in it: an album editor who is also the image's editor (its owner or an
  admin, or for an anonymous image the holder of its delete token, Imgur's
  ``deletehashes[]``): nobody puts someone else's image in their album.

Deleting an album leaves its images; deleting an image takes it out of every album.
Listings leave out expired images and other people's private images.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterable, AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from stream_zip import NO_COMPRESSION_64, Method, async_stream_zip

from pixstash.db.base import AlbumStore, MetadataStore, StoredAlbum
from pixstash.domain.accounts import Principal
from pixstash.domain.albums import Album, can_view, image_visible, is_editor, is_expired
from pixstash.domain.formats import default_output
from pixstash.domain.ids import hash_token, is_public_id, new_delete_token, new_public_id
from pixstash.domain.model import Image, Visibility
from pixstash.domain.variants import FULL
from pixstash.errors import (
    AlbumNotFound,
    BadRequest,
    ImageNotFound,
    InvalidDeleteToken,
    NotAlbumEditor,
    NotImageOwner,
    PrivateNeedsAccount,
)
from pixstash.services.images import ImageService
from pixstash.services.uploads import MAX_DESCRIPTION, MAX_TITLE, trim_text
from pixstash.storage.base import BlobStore

__all__ = ["UNCHANGED", "Album", "AlbumArchive", "AlbumService", "CreatedAlbum"]

MAX_ALBUM_IMAGES = 1000
OWNED_ALBUMS_MAX = 100


class _Unchanged:
    def __repr__(self) -> str:
        return "UNCHANGED"


UNCHANGED: Final = _Unchanged()  # ``update``: leave this field as it is


@dataclass(frozen=True, slots=True)
class CreatedAlbum:
    album: Album
    delete_token: str | None  # only for anonymous albums; shown once


@dataclass(frozen=True, slots=True)
class AlbumArchive:
    """A zip of an album's full-size images, produced while it is sent."""

    album: Album
    images: list[Image]
    chunks: AsyncIterable[bytes]


class AlbumService:
    def __init__(
        self,
        albums: AlbumStore,
        meta: MetadataStore,
        images: ImageService,
        store: BlobStore,
    ) -> None:
        self.albums = albums
        self.meta = meta
        self.image_service = images
        self.store = store

    @property
    def clock(self) -> Callable[[], datetime]:
        return self.image_service.clock

    # --- reading ----------------------------------------------------------------

    async def get(self, album_id: str, actor: Principal | None) -> Album:
        stored = await self._stored(album_id)
        if not can_view(stored.album.visibility, stored.album.owner_id, actor):
            raise AlbumNotFound()
        return stored.album

    async def get_by_delete_token(self, token: str) -> Album:
        stored = await self.albums.find_album_by_token(hash_token(token)) if token else None
        if stored is None:
            raise AlbumNotFound()
        return stored.album

    async def images(self, album_id: str, actor: Principal | None) -> list[Image]:
        """In position order, without expired images and others' private images."""
        await self.get(album_id, actor)
        now = self.clock()
        return [i for i in await self.albums.album_images(album_id) if image_visible(i, actor, now)]

    async def list_owned(self, owner_id: int) -> list[Album]:
        return await self.albums.list_owned_albums(owner_id, limit=OWNED_ALBUMS_MAX)

    @staticmethod
    def cover(album: Album, images: Sequence[Image]) -> Image | None:
        """The image that stands for the album: its cover, else its first image."""
        for image in images:
            if image.id == album.cover_image_id:
                return image
        return images[0] if images else None

    # --- changing ---------------------------------------------------------------

    async def create(
        self,
        actor: Principal | None,
        *,
        title: str | None = None,
        description: str | None = None,
        visibility: Visibility = Visibility.UNLISTED,
        image_ids: Sequence[str] = (),
        image_delete_tokens: Sequence[str] = (),
        cover: str | None = None,
    ) -> CreatedAlbum:
        owner_id = actor.user_id if actor is not None else None
        if visibility is Visibility.PRIVATE and owner_id is None:
            raise PrivateNeedsAccount()
        chosen = await self._authorized_images(actor, image_ids, image_delete_tokens)
        ids = [image.id for image in chosen]
        if cover is not None and cover not in ids:
            raise BadRequest("The cover must be one of the album's images.")
        token = new_delete_token() if owner_id is None else None
        now = self.clock()
        album = Album(
            id=new_public_id(),
            owner_id=owner_id,
            title=trim_text(title, MAX_TITLE),
            description=trim_text(description, MAX_DESCRIPTION),
            visibility=visibility,
            cover_image_id=cover,
            image_count=len(ids),
            created_at=now,
            updated_at=now,
        )
        created = await self.albums.create_album(album, hash_token(token) if token else None, ids)
        return CreatedAlbum(created, token)

    async def add(
        self,
        album_id: str,
        actor: Principal | None,
        image_ids: Sequence[str],
        *,
        delete_token: str | None = None,
        image_delete_tokens: Sequence[str] = (),
    ) -> Album:
        stored = await self._editable(album_id, actor, delete_token)
        chosen = await self._authorized_images(actor, image_ids, image_delete_tokens)
        if stored.album.image_count + len(chosen) > MAX_ALBUM_IMAGES:
            raise BadRequest(f"An album holds at most {MAX_ALBUM_IMAGES} images.")
        return self._found(
            await self.albums.add_album_images(album_id, [i.id for i in chosen], at=self.clock())
        )

    async def remove(
        self,
        album_id: str,
        actor: Principal | None,
        image_ids: Sequence[str],
        *,
        delete_token: str | None = None,
    ) -> Album:
        await self._editable(album_id, actor, delete_token)
        return self._found(
            await self.albums.remove_album_images(album_id, list(image_ids), at=self.clock())
        )

    async def reorder(
        self,
        album_id: str,
        actor: Principal | None,
        image_ids: Sequence[str],
        *,
        delete_token: str | None = None,
    ) -> Album:
        """``image_ids``: every image of the album, each once, in the new order."""
        await self._editable(album_id, actor, delete_token)
        return self._found(
            await self.albums.reorder_album(album_id, list(image_ids), at=self.clock())
        )

    async def update(
        self,
        album_id: str,
        actor: Principal | None,
        *,
        title: str | _Unchanged | None = UNCHANGED,
        description: str | _Unchanged | None = UNCHANGED,
        visibility: Visibility | _Unchanged = UNCHANGED,
        cover: str | _Unchanged | None = UNCHANGED,
        delete_token: str | None = None,
    ) -> Album:
        stored = await self._editable(album_id, actor, delete_token)
        changes: dict[str, str | None] = {}
        if not isinstance(title, _Unchanged):
            changes["title"] = trim_text(title, MAX_TITLE)
        if not isinstance(description, _Unchanged):
            changes["description"] = trim_text(description, MAX_DESCRIPTION)
        if not isinstance(visibility, _Unchanged):
            if visibility is Visibility.PRIVATE and stored.album.owner_id is None:
                raise PrivateNeedsAccount()
            changes["visibility"] = visibility.value
        if not isinstance(cover, _Unchanged):
            if cover is not None:
                members = {i.id for i in await self.albums.album_images(album_id)}
                if cover not in members:
                    raise BadRequest("The cover must be one of the album's images.")
            changes["cover_image_id"] = cover
        if not changes:
            return stored.album
        return self._found(await self.albums.update_album(album_id, changes, at=self.clock()))

    async def delete(
        self, album_id: str, actor: Principal | None, *, delete_token: str | None = None
    ) -> None:
        """The album goes; its images stay."""
        await self._editable(album_id, actor, delete_token)
        if not await self.albums.delete_album(album_id):
            raise AlbumNotFound()

    # --- download -----------------------------------------------------------------

    async def archive(self, album_id: str, actor: Principal | None) -> AlbumArchive:
        """Authorize now; the zip (ZIP64, stored: images are compressed already) is
        made while it is sent, one image in memory at a time."""
        album = await self.get(album_id, actor)
        images = await self.images(album_id, actor)
        return AlbumArchive(album, images, self._zip(images))

    def _zip(self, images: list[Image]) -> AsyncIterable[bytes]:
        return async_stream_zip(self._members(images))

    async def _members(
        self, images: list[Image]
    ) -> AsyncIterator[tuple[str, datetime, int, Method, AsyncIterable[bytes]]]:
        for number, image in enumerate(images, start=1):
            output = default_output(image.format)
            try:
                variant = await self.image_service.media.variant(image, FULL, output)
                data = await self.store.get_bytes(variant.key)
            except ImageNotFound:
                continue  # deleted while the archive is being sent
            name = f"{number:03d}-{image.id}.{output.extension}"
            method = NO_COMPRESSION_64(len(data), zlib.crc32(data))
            yield name, image.created_at, 0o644, method, _once(data)

    # --- rules ----------------------------------------------------------------------

    async def _stored(self, album_id: str) -> StoredAlbum:
        stored = await self.albums.get_album(album_id) if is_public_id(album_id) else None
        if stored is None:
            raise AlbumNotFound()
        return stored

    async def _editable(
        self, album_id: str, actor: Principal | None, delete_token: str | None
    ) -> StoredAlbum:
        """The album, if ``actor`` or ``delete_token`` may change it."""
        stored = await self._stored(album_id)
        album = stored.album
        if is_editor(album.owner_id, actor):
            return stored
        if delete_token and stored.delete_token_hash is not None:
            if hash_token(delete_token) == stored.delete_token_hash:
                return stored
            if can_view(album.visibility, album.owner_id, actor):
                raise InvalidDeleteToken("The album's delete token is wrong.")
        if not can_view(album.visibility, album.owner_id, actor):
            raise AlbumNotFound()
        raise NotAlbumEditor()

    async def _authorized_images(
        self,
        actor: Principal | None,
        image_ids: Sequence[str],
        delete_tokens: Sequence[str],
    ) -> list[Image]:
        """The images named by ``image_ids`` then those named by ``delete_tokens``, in
        that order, once each, after checking that the caller may use every one of them:
        its editor, or a delete token of it in ``delete_tokens``. All or nothing."""
        if len(image_ids) + len(delete_tokens) > MAX_ALBUM_IMAGES:
            raise BadRequest(f"An album holds at most {MAX_ALBUM_IMAGES} images.")
        proven: dict[str, Image] = {}
        for token in dict.fromkeys(delete_tokens):
            image = await self.meta.find_image_by_delete_token(hash_token(token))
            if image is None or is_expired(image, self.clock()):
                raise InvalidDeleteToken("No image has this delete token (deletehash).")
            proven[image.id] = image
        chosen: dict[str, Image] = {}
        for image_id in dict.fromkeys(image_ids):
            if image_id in proven:
                chosen[image_id] = proven[image_id]
                continue
            image = await self.image_service.get(image_id, actor)  # 404 for others' private ones
            if not is_editor(image.owner_id, actor):
                raise NotImageOwner(
                    f"Image {image_id} is not yours: only its owner (or, for an anonymous "
                    "image, whoever sends its delete token in deletehashes) can add it."
                )
            chosen[image_id] = image
        for image_id, image in proven.items():
            chosen.setdefault(image_id, image)
        return list(chosen.values())

    @staticmethod
    def _found(album: Album | None) -> Album:
        if album is None:  # deleted meanwhile
            raise AlbumNotFound()
        return album


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data
