"""Reading and deleting images."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from pixstash.db.base import MetadataStore
from pixstash.domain.ids import is_public_id, token_matches
from pixstash.domain.model import Image
from pixstash.errors import ImageNotFound, InvalidDeleteToken, PixstashError
from pixstash.jobs.base import PURGE_BLOB
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
        await self.remove(public_id)

    async def remove(self, public_id: str) -> None:
        """Delete an image; its blob goes too when no other image uses it."""
        deleted = await self.meta.delete_image(public_id, purge_job=PURGE_BLOB)
        self.media.evict(public_id)
        if deleted is None:
            raise ImageNotFound()
        if deleted.orphaned_hash is not None:
            try:  # at once; the purge job committed with the deletion is the safety net
                await self.purge_blob(deleted.orphaned_hash)
            except PixstashError as exc:
                log.warning("could not purge blob %s yet: %s", deleted.orphaned_hash, exc)
        log.info("deleted %s", public_id)

    async def purge_blob(self, content_hash: str, *, stale_after: float = 300.0) -> bool:
        """Remove a deleted blob's objects, then its row (row last). Only the purger
        holding the claim deletes anything; False if there was nothing to claim."""
        keys = await self.meta.claim_purge(content_hash, stale_after=stale_after)
        if keys is None:
            return False
        try:
            for key in keys:
                await self.store.delete(key)
        except BaseException:
            await self.meta.release_purge(content_hash)
            raise
        await self.meta.forget_blob(content_hash)
        return True

    async def purge_job(self, payload: dict[str, str]) -> None:
        """Job handler for ``purge-blob``."""
        await self.purge_blob(payload["hash"])


def _expired(image: Image) -> bool:
    return image.expires_at is not None and image.expires_at <= datetime.now(UTC)
