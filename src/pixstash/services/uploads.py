"""Accepting uploads: scan for malware, validate by content, store the original, commit
the row and its processing job together, answer.

Every way in (multipart, raw body, direct-upload completion, URL ingest) comes through
``validate``, so nothing is stored that the scanner has not passed. The scan comes
before the content check: a known-bad file that is not an image either is answered (and
logged) as ``malware-detected``, not ``unsupported-media-type``."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import anyio
import anyio.to_thread

from pixstash.db.base import MetadataStore, NewJob
from pixstash.domain.albums import parse_expiry, parse_visibility
from pixstash.domain.clock import utc_now
from pixstash.domain.ids import hash_token, new_delete_token, new_public_id
from pixstash.domain.model import Blob, Image, ImageStatus, Probe, Visibility, original_key
from pixstash.errors import (
    AuthenticationRequired,
    EmptyUpload,
    InvalidExpiry,
    InvalidVisibility,
    PixstashError,
    PrivateNeedsAccount,
)
from pixstash.jobs.base import PROCESS_BLOB, JobQueue
from pixstash.processing.base import ImageEngine
from pixstash.services.images import ImageService
from pixstash.services.scanning import UploadScanning
from pixstash.services.staging import StagedFile
from pixstash.storage.base import BlobStore
from pixstash.telemetry.context import current_request_id

log = logging.getLogger(__name__)

MAX_TITLE = 255
MAX_DESCRIPTION = 10_000


@dataclass(frozen=True, slots=True)
class Uploaded:
    image: Image
    delete_token: str


@dataclass(frozen=True, slots=True)
class UploadMeta:
    title: str | None = None
    description: str | None = None
    visibility: Visibility = Visibility.UNLISTED
    owner_id: int | None = None  # the logged-in uploader; None: anonymous
    expires_in: timedelta | None = None  # None: never


def upload_options(
    visibility: str | None, expires_in: str | None, *, owner_id: int | None
) -> tuple[Visibility, timedelta | None]:
    """Parse an upload's ``visibility`` and ``expires_in`` fields (absent or empty:
    unlisted, never). Anonymous uploads cannot be private: 400 private-needs-account
    (refused rather than quietly made unlisted: the uploader believes it is private)."""
    chosen = Visibility.UNLISTED
    if visibility is not None and visibility.strip():
        parsed = parse_visibility(visibility)
        if parsed is None:
            raise InvalidVisibility()
        chosen = parsed
    if chosen is Visibility.PRIVATE and owner_id is None:
        raise PrivateNeedsAccount()
    lifetime = None
    if expires_in is not None and expires_in.strip():
        lifetime = parse_expiry(expires_in)
        if lifetime is None:
            raise InvalidExpiry()
    return chosen, lifetime


class UploadService:
    def __init__(
        self,
        meta: MetadataStore,
        store: BlobStore,
        queue: JobQueue,
        engine: ImageEngine,
        images: ImageService,
        *,
        max_pixels: int,
        cpu: anyio.CapacityLimiter,
        scanning: UploadScanning,
        anonymous_uploads: bool = True,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.meta = meta
        self.store = store
        self.queue = queue
        self.engine = engine
        self.images = images
        self.max_pixels = max_pixels
        self.cpu = cpu
        self.scanning = scanning
        self.anonymous_uploads = anonymous_uploads
        self.clock = clock

    def check_uploader(self, owner_id: int | None) -> None:
        """Refuse an anonymous upload when the server accepts uploads from accounts only
        (called early by the routes, before any byte is read, and again on ingest)."""
        if owner_id is None and not self.anonymous_uploads:
            raise AuthenticationRequired(
                "This server accepts uploads from accounts only; log in or send "
                "'Authorization: Bearer <api token>'."
            )

    async def validate(self, staged: StagedFile) -> Probe:
        if staged.size == 0:
            raise EmptyUpload()
        await self.scanning.check(staged)
        return await anyio.to_thread.run_sync(
            lambda: self.engine.probe(staged.path, max_pixels=self.max_pixels), limiter=self.cpu
        )

    async def ingest(self, files: Sequence[StagedFile], meta: UploadMeta) -> list[Uploaded]:
        """All or nothing: every file is validated before any is stored.

        Staged files are consumed (moved into storage or deleted) whatever happens.
        """
        try:
            self.check_uploader(meta.owner_id)
            check_meta(meta)
            if not files:
                raise EmptyUpload()
            probes = [await self.validate(staged) for staged in files]
            done: list[Uploaded] = []
            try:
                for staged, probe in zip(files, probes, strict=True):
                    done.append(await self._store(staged, probe, meta))
            except BaseException:
                await self._undo(done)
                raise
            return done
        finally:
            await anyio.to_thread.run_sync(_discard_all, files)

    async def ingest_one(
        self,
        staged: StagedFile,
        meta: UploadMeta,
        *,
        delete_token: str | None = None,
        image_id: str | None = None,
    ) -> Uploaded:
        """One file, with a delete token and an image id chosen by the caller (a direct
        upload derives both, so that completing again answers the same image; an id
        already taken is replaced by a random one). The staged file is consumed
        whatever happens."""
        try:
            self.check_uploader(meta.owner_id)
            check_meta(meta)
            probe = await self.validate(staged)
            return await self._store(staged, probe, meta, delete_token, image_id)
        finally:
            await anyio.to_thread.run_sync(staged.discard)

    async def _drop_unreferenced(self, key: str) -> None:
        """The row was not committed: remove the original unless a row uses it (best
        effort; `pixstash gc` removes what a failure here leaves)."""
        try:
            if not await self.meta.key_in_use(key):
                await self.store.delete(key)
        except PixstashError as exc:
            log.warning("could not remove unreferenced %s: %s", key, exc)

    async def _undo(self, done: Sequence[Uploaded]) -> None:
        """A later file of the same request failed: take back the ones stored before it."""
        for uploaded in done:
            try:
                await self.images.remove(uploaded.image.id)
            except PixstashError as exc:
                log.warning("could not take back %s: %s", uploaded.image.id, exc)

    async def _store(
        self,
        staged: StagedFile,
        probe: Probe,
        meta: UploadMeta,
        delete_token: str | None = None,
        image_id: str | None = None,
    ) -> Uploaded:
        blob = Blob(
            hash=staged.sha256,
            format=probe.format,
            size=staged.size,
            width=probe.width,
            height=probe.height,
            frames=probe.frames,
        )
        # Blob first, row second: a crash in between leaves an orphan blob for `gc`,
        # never a row without its blob. Always (re)writing refreshes the object's age,
        # so a concurrent `gc` does not take an identical orphan from under us.
        key = original_key(blob.hash, blob.format)
        await self.store.put_file(key, staged.path)
        token = delete_token or new_delete_token()
        now = self.clock()
        image = Image(
            id=image_id or new_public_id(),
            blob_hash=blob.hash,
            format=probe.format,
            width=probe.width,
            height=probe.height,
            frames=probe.frames,
            size=staged.size,
            title=trim_text(meta.title, MAX_TITLE),
            description=trim_text(meta.description, MAX_DESCRIPTION),
            visibility=meta.visibility,
            status=ImageStatus.PENDING,
            created_at=now,
            delete_token_hash=hash_token(token),
            owner_id=meta.owner_id,
            expires_at=now + meta.expires_in if meta.expires_in is not None else None,
        )
        try:
            created = await self.meta.create_image(  # a caller's id is kept, never replaced
                image,
                blob,
                [NewJob(PROCESS_BLOB, _job_payload(blob.hash))],
                fixed_id=image_id is not None,
            )
        except BaseException:
            await self._drop_unreferenced(key)
            raise
        if await self.store.stat(key) is None:
            # A purge of identical content (claimed before our row existed) or gc removed
            # the object between our write and our commit: write it again. Nothing can
            # remove it now that a row points at it.
            await self.store.put_file(key, staged.path)
        if created.image.status is not ImageStatus.READY:
            self.queue.notify()
        log.info("uploaded %s (%s, %d bytes)", created.image.id, probe.format, staged.size)
        return Uploaded(created.image, token)


def check_meta(meta: UploadMeta) -> None:
    if meta.visibility is Visibility.PRIVATE and meta.owner_id is None:
        raise PrivateNeedsAccount()


def _job_payload(blob_hash: str) -> dict[str, str]:
    """The processing job's payload; it carries the upload's request id, which the worker
    puts in its log lines."""
    payload = {"hash": blob_hash}
    request_id = current_request_id()
    if request_id is not None:
        payload["request_id"] = request_id
    return payload


def _discard_all(files: Sequence[StagedFile]) -> None:
    for staged in files:
        staged.discard()


# C0 and C1 control characters but tab and newline: invisible in pages, and NUL cannot
# be stored by PostgreSQL at all.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def trim_text(value: str | None, limit: int) -> str | None:
    """User text as stored: no control characters, no outer whitespace, at most
    ``limit`` characters; None when nothing is left."""
    if value is None:
        return None
    value = _CONTROL.sub("", value).strip()
    return value[:limit] or None
