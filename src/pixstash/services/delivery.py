"""Serving media: resolve a media URL to stored bytes, with a small in-memory cache.

The cache holds small variants (thumbnails) so the hot path costs no database query and
no disk read. Entries expire after a short TTL, which bounds how long another server
process may keep serving an image deleted (or made private) elsewhere; in this process,
deletion and a change of visibility evict at once. An entry never outlives its image's
expiry: ``get`` checks that wall-clock deadline itself.

Private images never enter the cache and are never answered on the public path; their
owners get signed URLs (``resolve_private``), answered without caching.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from pixstash.db.base import MetadataStore
from pixstash.domain.albums import is_expired
from pixstash.domain.clock import utc_now
from pixstash.domain.formats import OutputFormat
from pixstash.domain.model import Blob, Image, ImageStatus, Variant, Visibility
from pixstash.domain.variants import VariantSpec, media_name
from pixstash.errors import ImageNotFound
from pixstash.services.renditions import RenditionService
from pixstash.storage.base import BlobStore


@dataclass(frozen=True, slots=True)
class Media:
    variant: Variant
    content_type: str
    body: bytes | None  # in memory, or
    path: Path | None  # a local file to send


class MediaCache:
    """Byte-bounded LRU of small media bodies, keyed by media name."""

    def __init__(
        self,
        max_bytes: int,
        max_item_bytes: int,
        ttl_seconds: float,
        *,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.max_bytes = max_bytes
        self.max_item_bytes = max_item_bytes
        self.ttl = ttl_seconds
        self.clock = clock
        self._items: OrderedDict[str, tuple[Media, float]] = OrderedDict()
        # name -> the image's expires_at, for entries of images that expire
        self._deadlines: dict[str, datetime] = {}
        self._by_image: dict[str, set[str]] = {}
        # image id -> (eviction number, when): a lookup that began before an eviction
        # must not put the deleted image back. Entries older than the TTL are dropped.
        self._evictions: dict[str, tuple[int, float]] = {}
        self._eviction_count = 0
        self.size = 0

    def get(self, name: str) -> Media | None:
        item = self._items.get(name)
        if item is None or item[1] < time.monotonic() or self._past_deadline(name):
            if item is not None:
                self._remove(name)
            return None
        self._items.move_to_end(name)
        return item[0]

    @property
    def enabled(self) -> bool:
        return self.max_bytes > 0 and self.max_item_bytes > 0 and self.ttl > 0

    def generation(self) -> int:
        """Take before looking an image up; hand to ``put`` with what was found."""
        return self._eviction_count

    def _past_deadline(self, name: str) -> bool:
        if not self._deadlines:  # the common case: no cached image expires
            return False
        deadline = self._deadlines.get(name)
        return deadline is not None and deadline <= self.clock()

    def put(
        self,
        image_id: str,
        name: str,
        media: Media,
        since: int,
        *,
        expires_at: datetime | None = None,
    ) -> None:
        """``expires_at``: the image's own expiry, after which the entry is never served."""
        assert media.body is not None
        if len(media.body) > self.max_item_bytes or self.ttl <= 0:
            return
        evicted = self._evictions.get(image_id)
        if evicted is not None and evicted[0] > since:
            return  # deleted while we were fetching it
        self._remove(name)
        self._items[name] = (media, time.monotonic() + self.ttl)
        if expires_at is not None:
            self._deadlines[name] = expires_at
        self._by_image.setdefault(image_id, set()).add(name)
        self.size += len(media.body)
        while self.size > self.max_bytes and self._items:
            self._remove(next(iter(self._items)))

    def evict_image(self, image_id: str) -> None:
        now = time.monotonic()
        self._eviction_count += 1
        self._evictions[image_id] = (self._eviction_count, now)
        if len(self._evictions) > 1024:
            horizon = now - max(self.ttl, 1.0) * 4
            self._evictions = {k: v for k, v in self._evictions.items() if v[1] > horizon}
        for name in self._by_image.pop(image_id, set()):
            self._remove(name)

    def _remove(self, name: str) -> None:
        item = self._items.pop(name, None)
        self._deadlines.pop(name, None)
        if item is not None and item[0].body is not None:
            self.size -= len(item[0].body)
            owners = self._by_image.get(name[:7])
            if owners is not None:
                owners.discard(name)
                if not owners:
                    del self._by_image[name[:7]]


class MediaService:
    def __init__(
        self,
        meta: MetadataStore,
        store: BlobStore,
        renditions: RenditionService,
        cache: MediaCache,
        *,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.meta = meta
        self.store = store
        self.renditions = renditions
        self.cache = cache
        self.clock = clock
        self._inflight: dict[str, asyncio.Task[Media]] = {}

    def cached(self, name: str) -> Media | None:
        return self.cache.get(name)

    async def resolve(self, image_id: str, spec: VariantSpec, output: OutputFormat) -> Media:
        """The media for a URL; concurrent misses for one name share one lookup."""
        name = media_name(image_id, spec, output)
        hit = self.cache.get(name)
        if hit is not None:
            return hit
        task = self._inflight.get(name)
        if task is None:
            # Its own task: a requester that goes away cancels only its own wait.
            task = asyncio.get_running_loop().create_task(self._load(image_id, spec, output, name))
            self._inflight[name] = task
            task.add_done_callback(lambda done: self._forget(name, done))
        return await asyncio.shield(task)

    def _forget(self, name: str, task: asyncio.Task[Media]) -> None:
        if self._inflight.get(name) is task:
            del self._inflight[name]
        if not task.cancelled():
            task.exception()  # seen, even if every requester went away

    async def _load(
        self, image_id: str, spec: VariantSpec, output: OutputFormat, name: str
    ) -> Media:
        generation = self.cache.generation()
        image = await self.meta.get_image(image_id)
        if image is None or image.visibility is Visibility.PRIVATE or not self._servable(image):
            raise ImageNotFound()
        variant = await self.variant(image, spec, output)
        if self.cache.enabled and variant.size <= self.cache.max_item_bytes:
            media = Media(variant, output.mime, await self.store.get_bytes(variant.key), None)
            self.cache.put(image_id, name, media, generation, expires_at=image.expires_at)
            return media
        return await self._uncached(variant, output)

    def _servable(self, image: Image) -> bool:
        return image.status is not ImageStatus.FAILED and not is_expired(image, self.clock())

    async def variant(self, image: Image, spec: VariantSpec, output: OutputFormat) -> Variant:
        """The stored variant of ``image`` (rendered now if it is not yet)."""
        blob = Blob(
            image.blob_hash, image.format, image.size, image.width, image.height, image.frames
        )
        return await self.renditions.ensure_variant(blob, spec, output)

    async def resolve_private(
        self, image_id: str, spec: VariantSpec, output: OutputFormat
    ) -> Media:
        """The media of a signed URL (the signature was checked by the caller): any
        visibility, never cached here, never shared with the public path."""
        image = await self.meta.get_image(image_id)
        if image is None or not self._servable(image):
            raise ImageNotFound()
        return await self._uncached(await self.variant(image, spec, output), output)

    async def _uncached(self, variant: Variant, output: OutputFormat) -> Media:
        path = self.store.local_path(variant.key)
        if path is not None:
            return Media(variant, output.mime, None, path)
        return Media(variant, output.mime, await self.store.get_bytes(variant.key), None)

    def evict(self, image_id: str) -> None:
        """Forget an image (deleted): cached bodies, and lookups still in flight, so no
        later request joins one that began before the deletion."""
        self.cache.evict_image(image_id)
        for name in [n for n in self._inflight if n.startswith(image_id)]:
            del self._inflight[name]
