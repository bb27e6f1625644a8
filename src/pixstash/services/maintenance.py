"""Garbage collection: finish interrupted deletions, remove orphan blobs and stale
temp files, expire abandoned direct uploads. Orphans younger than the grace period are
left alone: they may belong to an upload whose row is being committed right now.

Objects under ``incoming/`` are not orphans: a client may still be sending one, or about
to complete it. They have their own grace (a day by default, like the bucket lifecycle
rule ``pixstash storage setup`` installs on S3), and the object of an upload session that
can still be completed is kept whatever its age (an upload window longer than the grace,
a storage clock ahead of ours). Upload sessions that can no longer be completed are
deleted, and finished ones once they are older than the incoming grace: completing them
again would then answer upload-not-found instead of replaying the result."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import anyio.to_thread

from pixstash.db.base import MetadataStore, UploadSessionStore
from pixstash.domain.model import INCOMING_PREFIX
from pixstash.services.images import ImageService
from pixstash.services.staging import StagingArea
from pixstash.storage.base import BlobStore


@dataclass(frozen=True, slots=True)
class GcReport:
    purged_blobs: int
    orphan_objects: int
    orphan_bytes: int
    temp_files: int
    incoming_objects: int = 0
    incoming_bytes: int = 0
    upload_sessions: int = 0  # expired or finished upload sessions deleted
    expired_images: int = 0  # images past their expires_at, deleted (the sweeper's work)


INCOMING_GRACE_SECONDS = 24 * 3600


def _utc_now() -> datetime:
    return datetime.now(UTC)


class MaintenanceService:
    def __init__(
        self,
        meta: MetadataStore,
        store: BlobStore,
        images: ImageService,
        staging: StagingArea,
        sessions: UploadSessionStore,
        *,
        upload_seconds: float,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        """``upload_seconds``: how long a direct upload may take to start sending; it
        may be completed until as long again after it expired."""
        self.meta = meta
        self.store = store
        self.images = images
        self.staging = staging
        self.sessions = sessions
        self.upload_window = timedelta(seconds=upload_seconds)
        self.clock = clock

    async def collect_garbage(
        self,
        *,
        grace_seconds: float,
        dry_run: bool = False,
        incoming_grace_seconds: float = INCOMING_GRACE_SECONDS,
    ) -> GcReport:
        # expired images first: the blobs they leave are purged just below
        expired = 0 if dry_run else await self.images.sweep_expired()
        purged = 0
        for content_hash in await self.meta.blobs_to_purge():
            if not dry_run and await self.images.purge_blob(
                content_hash, stale_after=grace_seconds
            ):
                purged += 1
        known = await self.meta.known_keys()
        cutoff = self.clock() - timedelta(seconds=grace_seconds)
        count = size = 0
        async for obj in self.store.iter_objects():
            if obj.key in known or obj.modified > cutoff or obj.key.startswith(INCOMING_PREFIX):
                continue
            if dry_run or await self._remove_orphan(obj.key, cutoff):
                count += 1
                size += obj.size
        temp = 0
        if not dry_run:
            temp = await anyio.to_thread.run_sync(self.staging.sweep, grace_seconds)
            temp += await self.store.sweep_incomplete(grace_seconds)
        sessions = await self.forget_upload_sessions(
            retention_seconds=incoming_grace_seconds, dry_run=dry_run
        )
        incoming, incoming_size = await self.expire_incoming(
            grace_seconds=incoming_grace_seconds, dry_run=dry_run
        )
        return GcReport(purged, count, size, temp, incoming, incoming_size, sessions, expired)

    async def forget_upload_sessions(
        self, *, retention_seconds: float, dry_run: bool = False
    ) -> int:
        """Delete the upload sessions that can no longer be completed, and the finished
        ones older than ``retention_seconds``; returns how many (would be) deleted."""
        now = self.clock()
        window = {
            "expired_before": now - self.upload_window,
            "finished_before": now - timedelta(seconds=retention_seconds),
        }
        if dry_run:
            return await self.sessions.count_stale_upload_sessions(**window)
        return await self.sessions.delete_stale_upload_sessions(**window)

    async def expire_incoming(
        self, *, grace_seconds: float, dry_run: bool = False
    ) -> tuple[int, int]:
        """Delete direct uploads left under ``incoming/`` longer than the grace period,
        except those of sessions that can still be completed.

        Returns how many objects and bytes (that would be) removed.
        """
        now = self.clock()
        cutoff = now - timedelta(seconds=grace_seconds)
        open_keys = await self.sessions.open_upload_keys(expiring_after=now - self.upload_window)
        count = size = 0
        async for obj in self.store.iter_objects(INCOMING_PREFIX):
            if obj.modified > cutoff or obj.key in open_keys:
                continue
            if not dry_run:
                current = await self.store.stat(obj.key)  # a retry may have rewritten it
                if current is None or current.modified > cutoff:
                    continue
                await self.store.delete(obj.key)
            count += 1
            size += obj.size
        return count, size

    async def _remove_orphan(self, key: str, cutoff: datetime) -> bool:
        """Look again right before deleting: the listing may be minutes old by now."""
        current = await self.store.stat(key)
        if current is None or current.modified > cutoff or await self.meta.key_in_use(key):
            return False
        await self.store.delete(key)
        return True
