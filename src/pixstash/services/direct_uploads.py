"""Direct uploads: the client sends the bytes straight to storage, then completes.

``start`` records an upload session and answers where to POST the file: a presigned POST
to the bucket (S3), or a URL of the app itself whose fields are signed with the secret
key (local disk, memory). Either way the bytes land under ``incoming/<session id>`` and
clients have one code path: POST the ``fields`` and then the ``file`` to ``url``.
``complete`` checks that object (there, not larger than declared, an image by its magic
bytes), then ingests it like any upload (malware scan, probe, hash, dedup, original, row and
job) and removes it from ``incoming/``. A refused object (malware included) is deleted
and the session marked failed; with the scanner down the session stays open for a retry.

Completing again answers the same image and delete token: the token is derived from the
secret key and the session id, so it is never stored in clear.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio
import anyio.to_thread

from pixstash.db.base import UploadSession, UploadSessionStore, UploadState
from pixstash.domain.formats import SourceFormat, sniff
from pixstash.domain.ids import derived_public_id, token_matches
from pixstash.domain.model import INCOMING_PREFIX, Image
from pixstash.errors import (
    BlobMissing,
    Conflict,
    EmptyUpload,
    FileTooLarge,
    ImageIdTaken,
    ImageNotFound,
    ImageRejected,
    InvalidUploadSignature,
    PixstashError,
    UnsupportedMediaType,
    UploadExpired,
    UploadFailed,
    UploadInProgress,
    UploadMissing,
    UploadNotFound,
)
from pixstash.services.staging import StagedFile, StagingArea, clean_filename
from pixstash.services.uploads import (
    MAX_DESCRIPTION,
    MAX_TITLE,
    Uploaded,
    UploadMeta,
    UploadService,
    trim_text,
    upload_options,
)
from pixstash.storage.base import BlobStore

log = logging.getLogger(__name__)

ACCEPTED_TYPES = frozenset(fmt.mime for fmt in SourceFormat)
HEAD_BYTES = 64  # enough for every magic number sniff() knows
# A completing request renews its claim every CLAIM_RENEW_SECONDS; a claim not renewed
# for STALE_CLAIM_SECONDS was left by a server that died, and the next complete takes it.
STALE_CLAIM_SECONDS = 30.0
CLAIM_RENEW_SECONDS = 10.0
SIGNED_FIELDS = ("key", "Content-Type", "max-size", "expires", "signature")
_HASH_CHUNK = 1024 * 1024
# The object is refused for what it is: delete it and fail the session. Anything else
# (missing object, backend outage, a conflict) leaves the session to be completed again.
_REFUSALS = (FileTooLarge, EmptyUpload, UnsupportedMediaType, ImageRejected)


@dataclass(frozen=True, slots=True)
class UploadTicket:
    """Where the client sends the file; ``url`` None means the app's own signed URL."""

    session: UploadSession
    url: str | None
    fields: dict[str, str]


@dataclass(frozen=True, slots=True)
class CompletedUpload:
    uploaded: Uploaded
    replayed: bool  # completed earlier: the same image and token again


class DirectUploadService:
    def __init__(
        self,
        sessions: UploadSessionStore,
        store: BlobStore,
        uploads: UploadService,
        staging: StagingArea,
        *,
        secret: bytes,
        max_bytes: int,
        ttl_seconds: int,
    ) -> None:
        self.sessions = sessions
        self.store = store
        self.uploads = uploads
        self.staging = staging
        self.secret = secret
        self.max_bytes = max_bytes
        self.ttl = timedelta(seconds=ttl_seconds)
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    # --- start ------------------------------------------------------------------

    async def start(
        self,
        *,
        filename: str | None,
        content_type: str,
        size: int,
        title: str | None = None,
        description: str | None = None,
        owner_id: int | None = None,
        visibility: str | None = None,
        expires_in: str | None = None,
    ) -> UploadTicket:
        """``owner_id``: the logged-in user starting it, who will own the image;
        ``visibility`` and ``expires_in`` as for other uploads (checked now)."""
        self.uploads.check_uploader(owner_id)
        chosen, _ = upload_options(visibility, expires_in, owner_id=owner_id)
        kind = content_type.split(";", 1)[0].strip().lower()
        if kind not in ACCEPTED_TYPES:
            raise UnsupportedMediaType(
                f"{content_type!r} is not an accepted image type; accepted: "
                f"{', '.join(sorted(ACCEPTED_TYPES))}."
            )
        if size < 1:
            raise EmptyUpload("The declared size must be at least 1 byte.")
        if size > self.max_bytes:
            limit_mb = self.max_bytes / (1024 * 1024)
            raise FileTooLarge(f"The file is larger than {limit_mb:g} MB; upload a smaller file.")
        session_id = secrets.token_urlsafe(18)
        now = self.clock().replace(microsecond=0)
        session = UploadSession(
            id=session_id,
            key=INCOMING_PREFIX + session_id,
            filename=clean_filename(filename),
            content_type=kind,
            size=size,
            state=UploadState.PENDING,
            created_at=now,
            expires_at=now + self.ttl,
            title=trim_text(title, MAX_TITLE),
            description=trim_text(description, MAX_DESCRIPTION),
            owner_id=owner_id,
            visibility=chosen.value,
            expires_in=expires_in.strip().lower() if expires_in and expires_in.strip() else None,
        )
        presigned = await self.store.presigned_post(
            session.key,
            content_type=kind,
            max_bytes=size,
            expires_seconds=int(self.ttl.total_seconds()),
        )
        await self.sessions.create_upload_session(session)
        if presigned is not None:
            return UploadTicket(session, presigned.url, presigned.fields)
        expires = str(int(session.expires_at.timestamp()))
        fields = {
            "key": session.key,
            "Content-Type": kind,
            "max-size": str(size),
            "expires": expires,
        }
        fields["signature"] = self._signature(session_id, fields)
        return UploadTicket(session, None, fields)

    # --- the app's own upload URL (local and memory storage) --------------------

    def authorize(self, session_id: str, fields: Mapping[str, str]) -> int:
        """Check the signed fields sent with a file; returns the bytes it may have."""
        if any(name not in fields for name in SIGNED_FIELDS):
            raise InvalidUploadSignature(
                f"The upload needs the fields {', '.join(SIGNED_FIELDS)} before the file."
            )
        expected = self._signature(session_id, fields)
        if not hmac.compare_digest(expected.encode(), fields["signature"].encode()):
            raise InvalidUploadSignature()
        # signed by us, so well-formed
        if int(fields["expires"]) < self.clock().timestamp():
            raise UploadExpired()
        return int(fields["max-size"])

    async def receive(self, session_id: str, staged: StagedFile) -> None:
        """Store a file sent to the app's signed URL under the session's key."""
        try:
            session = await self._get(session_id)
            if session.state is UploadState.FAILED:
                raise UploadFailed()
            if session.state is not UploadState.PENDING:
                raise Conflict("This upload is already completed; start a new one.")
            if staged.size == 0:
                raise EmptyUpload("The file is empty.")
            await self.store.put_file(session.key, staged.path)
        finally:
            await anyio.to_thread.run_sync(staged.discard)

    def _signature(self, session_id: str, fields: Mapping[str, str]) -> str:
        message = "\n".join(
            [
                "pixstash-upload-v1",
                session_id,
                fields["key"],
                fields["max-size"],
                fields["Content-Type"],
                fields["expires"],
            ]
        )
        return hmac.new(self.secret, message.encode(), hashlib.sha256).hexdigest()

    # --- complete ---------------------------------------------------------------

    async def complete(self, session_id: str) -> CompletedUpload:
        session = await self._get(session_id)
        if session.state is UploadState.COMPLETED:
            return await self._replay(session)
        # Sending must start before expires_at; a slow transfer gets one more period.
        if self.clock() > session.expires_at + self.ttl:
            await self._drop_object(session.key)
            raise UploadExpired()
        if session.state is UploadState.FAILED:
            raise UploadFailed()
        claimed = await self.sessions.claim_upload_session(
            session_id, stale_after=STALE_CLAIM_SECONDS
        )
        if claimed is None:
            again = await self._get(session_id)
            if again.state is UploadState.COMPLETED:
                return await self._replay(again)
            if again.state is UploadState.FAILED:
                raise UploadFailed()
            raise UploadInProgress()
        prior = await self._committed_before(claimed)
        if prior is not None:  # a completion committed the image, then died or failed
            await self.sessions.finish_upload_session(
                session_id, UploadState.COMPLETED, image_id=prior.id
            )
            await self._drop_object(claimed.key)
            return CompletedUpload(Uploaded(prior, self._delete_token(session_id)), True)
        renewal = asyncio.create_task(self._hold_claim(session_id))
        try:
            uploaded = await self._ingest(claimed)
        except ImageIdTaken:
            # A completion that had lost its claim (its server stalled past the lease)
            # committed this session's image at the same moment: answer that one.
            with anyio.CancelScope(shield=True):
                prior = await self._committed_before(claimed)
                if prior is None:
                    await self._release(session_id)
                    raise UploadInProgress() from None
                await self.sessions.finish_upload_session(
                    session_id, UploadState.COMPLETED, image_id=prior.id
                )
            assert prior is not None  # the shielded scope does not swallow the raise
            await self._drop_object(claimed.key)
            return CompletedUpload(Uploaded(prior, self._delete_token(session_id)), True)
        except _REFUSALS:
            with anyio.CancelScope(shield=True):
                await self._drop_object(claimed.key)
                await self.sessions.finish_upload_session(session_id, UploadState.FAILED)
            raise
        except BaseException:
            with anyio.CancelScope(shield=True):
                await self._release(session_id)
            raise
        finally:
            renewal.cancel()
        try:
            await self.sessions.finish_upload_session(
                session_id, UploadState.COMPLETED, image_id=uploaded.image.id
            )
        except BaseException:  # the image is committed: a retry finds it and finishes
            with anyio.CancelScope(shield=True):
                await self._release(session_id)
            raise
        await self._drop_object(claimed.key)
        return CompletedUpload(uploaded, replayed=False)

    async def _hold_claim(self, session_id: str) -> None:
        """Renew the completing claim while this request works on it (a large file, a
        slow store), so that only a dead server's claim ever goes stale."""
        while True:
            await anyio.sleep(CLAIM_RENEW_SECONDS)
            try:
                await self.sessions.finish_upload_session(session_id, UploadState.COMPLETING)
            except PixstashError as exc:  # the next renewal may work; if not, it goes stale
                log.warning("could not renew the claim on upload %s: %s", session_id, exc)

    async def _ingest(self, session: UploadSession) -> Uploaded:
        found = await self.store.stat(session.key)
        if found is None:
            raise UploadMissing()
        limit = min(session.size, self.max_bytes)
        if found.size == 0:
            raise EmptyUpload("The uploaded file is empty.")
        if found.size > limit:
            raise FileTooLarge(
                f"The uploaded file has {found.size} bytes, more than the {limit} declared; "
                "start a new upload with its real size."
            )
        try:
            head = await self.store.read_head(session.key, HEAD_BYTES)
        except BlobMissing:
            raise UploadMissing() from None
        if sniff(head) is None:  # refused before fetching the whole object
            raise UnsupportedMediaType()
        staged = await self._fetch(session)
        visibility, lifetime = upload_options(
            session.visibility, session.expires_in, owner_id=session.owner_id
        )
        meta = UploadMeta(
            title=session.title,
            description=session.description,
            owner_id=session.owner_id,
            visibility=visibility,
            expires_in=lifetime,  # counted from the completion, when the image is made
        )
        return await self.uploads.ingest_one(
            staged,
            meta,
            delete_token=self._delete_token(session.id),
            image_id=self._image_id(session.id),
        )

    async def _fetch(self, session: UploadSession) -> StagedFile:
        """Download the object to the staging area, hashing it, for the probe."""
        path = await anyio.to_thread.run_sync(self.staging.temp_path)
        try:
            await self.store.download(session.key, path)
            size, digest = await anyio.to_thread.run_sync(_size_and_hash, path)
        except BlobMissing:
            path.unlink(missing_ok=True)
            raise UploadMissing() from None
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return StagedFile(path, size, digest, session.filename)

    async def _replay(self, session: UploadSession) -> CompletedUpload:
        assert session.image_id is not None
        # a completing server may have died between finishing the session and this
        await self._drop_object(session.key)
        image = await self.uploads.images.find(session.image_id)
        return CompletedUpload(Uploaded(image, self._delete_token(session.id)), replayed=True)

    def _image_id(self, session_id: str) -> str:
        return derived_public_id(self.secret, f"pixstash-upload-image\n{session_id}")

    async def _committed_before(self, session: UploadSession) -> Image | None:
        """The image an earlier completion of this session committed, if one did: the
        image row and the session's end are two transactions, and a server can die (or
        the database fail) between them. The id is derived from the session, and the
        delete token proves the image is this session's, not another's with that id."""
        try:
            image = await self.uploads.images.find(self._image_id(session.id))
        except ImageNotFound:
            return None
        if not token_matches(self._delete_token(session.id), image.delete_token_hash):
            return None
        return image

    def _delete_token(self, session_id: str) -> str:
        digest = hmac.new(
            self.secret, f"pixstash-delete-token\n{session_id}".encode(), hashlib.sha256
        ).digest()
        return base64.urlsafe_b64encode(digest[:24]).decode()  # 192 bits, like new ones

    async def _get(self, session_id: str) -> UploadSession:
        if not 1 <= len(session_id) <= 64:
            raise UploadNotFound()
        session = await self.sessions.get_upload_session(session_id)
        if session is None:
            raise UploadNotFound()
        return session

    async def _release(self, session_id: str) -> None:
        try:
            await self.sessions.finish_upload_session(session_id, UploadState.PENDING)
        except PixstashError as exc:  # the claim goes stale and is taken over later
            log.warning("could not release upload %s: %s", session_id, exc)

    async def _drop_object(self, key: str) -> None:
        """Best effort: the incoming/ lifecycle rule and `pixstash gc` expire leftovers."""
        try:
            await self.store.delete(key)
        except PixstashError as exc:
            log.warning("could not remove %s: %s", key, exc)


def _size_and_hash(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(_HASH_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()
