"""Reading and deleting images.

Who sees what: ``get`` answers an image to whoever may see it (a private one to its
owner and administrators only) and ``image-not-found`` to everyone else, as if it did
not exist; an expired image is gone for everyone. ``find`` is the lookup without the
visibility rule, for callers that prove their right otherwise (a delete token).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from pixstash.db.base import MetadataStore
from pixstash.domain.accounts import Principal
from pixstash.domain.albums import can_view, is_editor, is_expired
from pixstash.domain.clock import utc_now
from pixstash.domain.ids import hash_token, is_public_id, token_matches
from pixstash.domain.model import Image
from pixstash.errors import ImageNotFound, InvalidDeleteToken, NotImageOwner, PixstashError
from pixstash.jobs.base import PURGE_BLOB
from pixstash.services.delivery import MediaService
from pixstash.storage.base import BlobStore

log = logging.getLogger(__name__)


class ImageService:
    def __init__(
        self,
        meta: MetadataStore,
        store: BlobStore,
        media: MediaService,
        *,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.meta = meta
        self.store = store
        self.media = media
        self.clock = clock

    async def find(self, public_id: str) -> Image:
        """The image if it exists and has not expired, whoever may see it."""
        image = await self.meta.get_image(public_id) if is_public_id(public_id) else None
        if image is None or is_expired(image, self.clock()):
            raise ImageNotFound()
        return image

    async def get(self, public_id: str, actor: Principal | None = None) -> Image:
        """The image as ``actor`` may see it: private ones are not found by others."""
        image = await self.find(public_id)
        if not can_view(image.visibility, image.owner_id, actor):
            raise ImageNotFound()
        return image

    async def check_delete_token(self, public_id: str, token: str | None) -> Image:
        image = await self.find(public_id)
        if not token or not token_matches(token, image.delete_token_hash):
            raise InvalidDeleteToken()
        return image

    async def find_by_delete_token(self, token: str) -> Image:
        """The image whose delete token this is (Imgur's deletehash); the token proves
        the right to change it, whoever may see it."""
        image = await self.meta.find_image_by_delete_token(hash_token(token)) if token else None
        if image is None or is_expired(image, self.clock()):
            raise ImageNotFound()
        return image

    async def authorize_change(
        self, public_id: str, *, principal: Principal | None, delete_token: str | None
    ) -> Image:
        """The image, if ``principal`` (its owner or an admin) or ``delete_token`` may
        change or delete it."""
        image = await self.find(public_id)
        if is_editor(image.owner_id, principal):
            return image
        if delete_token and token_matches(delete_token, image.delete_token_hash):
            return image
        if not can_view(image.visibility, image.owner_id, principal):
            raise ImageNotFound()  # a private image of someone else: it does not exist
        if principal is not None and not delete_token:
            raise NotImageOwner()
        raise InvalidDeleteToken()

    async def delete(
        self, public_id: str, token: str | None, *, principal: Principal | None = None
    ) -> None:
        await self.authorize_change(public_id, principal=principal, delete_token=token)
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

    async def sweep_expired(self, *, batch: int = 100) -> int:
        """Delete the images whose lifetime is over (they are already invisible);
        returns how many. Safe to run in many processes at once."""
        removed = 0
        while ids := await self.meta.expired_image_ids(now=self.clock(), limit=batch):
            for public_id in ids:
                try:
                    await self.remove(public_id)
                    removed += 1
                except ImageNotFound:  # another sweeper was first
                    continue
            if len(ids) < batch:
                break
        if removed:
            log.info("swept %d expired image(s)", removed)
        return removed
