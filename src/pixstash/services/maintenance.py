"""Garbage collection: finish interrupted deletions, remove orphan blobs and stale
temp files. Orphans younger than the grace period are left alone: they may belong to an
upload whose row is being committed right now."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import anyio.to_thread

from pixstash.db.base import MetadataStore
from pixstash.services.images import ImageService
from pixstash.services.staging import StagingArea
from pixstash.storage.base import BlobStore


@dataclass(frozen=True, slots=True)
class GcReport:
    purged_blobs: int
    orphan_objects: int
    orphan_bytes: int
    temp_files: int


class MaintenanceService:
    def __init__(
        self,
        meta: MetadataStore,
        store: BlobStore,
        images: ImageService,
        staging: StagingArea,
    ) -> None:
        self.meta = meta
        self.store = store
        self.images = images
        self.staging = staging

    async def collect_garbage(self, *, grace_seconds: float, dry_run: bool = False) -> GcReport:
        purged = 0
        for content_hash in await self.meta.blobs_to_purge():
            if not dry_run and await self.images.purge_blob(
                content_hash, stale_after=grace_seconds
            ):
                purged += 1
        known = await self.meta.known_keys()
        cutoff = datetime.now(UTC) - timedelta(seconds=grace_seconds)
        count = size = 0
        async for obj in self.store.iter_objects():
            if obj.key in known or obj.modified > cutoff:
                continue
            if dry_run or await self._remove_orphan(obj.key, cutoff):
                count += 1
                size += obj.size
        temp = 0
        if not dry_run:
            temp = await anyio.to_thread.run_sync(self.staging.sweep, grace_seconds)
            temp += await self.store.sweep_incomplete(grace_seconds)
        return GcReport(purged, count, size, temp)

    async def _remove_orphan(self, key: str, cutoff: datetime) -> bool:
        """Look again right before deleting: the listing may be minutes old by now."""
        current = await self.store.stat(key)
        if current is None or current.modified > cutoff or await self.meta.key_in_use(key):
            return False
        await self.store.delete(key)
        return True
