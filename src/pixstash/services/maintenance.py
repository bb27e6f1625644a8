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
        pending = await self.meta.deleting_blobs()
        if not dry_run:
            for content_hash in pending:
                await self.images.purge_blob(content_hash)
        known = await self.meta.known_keys()
        cutoff = datetime.now(UTC) - timedelta(seconds=grace_seconds)
        count = size = 0
        async for obj in self.store.iter_objects():
            if obj.key in known or obj.modified > cutoff:
                continue
            count += 1
            size += obj.size
            if not dry_run:
                await self.store.delete(obj.key)
        temp = 0
        if not dry_run:
            temp = await anyio.to_thread.run_sync(self.staging.sweep, grace_seconds)
        return GcReport(len(pending), count, size, temp)
