"""Reading and deleting images."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from pixstash.db.base import MetadataStore
from pixstash.domain.ids import is_public_id, token_matches
from pixstash.domain.model import Image
from pixstash.errors import ImageNotFound, InvalidDeleteToken, PixstashError
from pixstash.services.delivery import MediaService
from pixstash.storage.base import BlobStore

log = logging.getLogger(__name__)


class ImageService:
    def __init__(self, meta: MetadataStore, store: BlobStore, media: MediaService) -> None:
        self.meta = meta
        self.store = store
        self.media = media

    async def get(self, public_id: str) -> Image:
        image = await self.meta.get_image(public_id) if is_public_id(public_id) else None
        if image is None or _expired(image):
            raise ImageNotFound()
        return image

    async def check_delete_token(self, public_id: str, token: str | None) -> Image:
        image = await self.get(public_id)
        if not token or not token_matches(token, image.delete_token_hash):
            raise InvalidDeleteToken()
        return image

    async def delete(self, public_id: str, token: str | None) -> None:
        await self.check_delete_token(public_id, token)
        deleted = await self.meta.delete_image(public_id)
        self.media.evict(public_id)
        if deleted is None:
            raise ImageNotFound()
        if deleted.orphaned_hash is not None:
            try:
                await self.purge_blob(deleted.orphaned_hash)
            except PixstashError as exc:  # `pixstash gc` finishes the job later
                log.warning("could not purge blob %s yet: %s", deleted.orphaned_hash, exc)
        log.info("deleted %s", public_id)

    async def purge_blob(self, content_hash: str) -> None:
        """Remove the objects of a blob marked ``deleting``, then its row (row last)."""
        for key in await self.meta.blob_objects(content_hash):
            await self.store.delete(key)
        await self.meta.forget_blob(content_hash)


def _expired(image: Image) -> bool:
    return image.expires_at is not None and image.expires_at <= datetime.now(UTC)
