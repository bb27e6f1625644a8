"""The MetadataStore port: everything services need from the metadata database."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from pixstash.domain.model import Blob, Image, Placeholder, Variant


@dataclass(frozen=True, slots=True)
class NewJob:
    kind: str
    payload: dict[str, str]


@dataclass(frozen=True, slots=True)
class CreatedImage:
    image: Image
    blob_is_new: bool


@dataclass(frozen=True, slots=True)
class DeletedImage:
    image: Image
    orphaned_hash: str | None  # set when this was the blob's last reference


class UploadState(enum.StrEnum):
    """pending -> completing (one completer holds it) -> completed | failed; a completer
    that could not finish (object missing, backend down) puts it back to pending."""

    PENDING = "pending"
    COMPLETING = "completing"
    COMPLETED = "completed"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class UploadSession:
    """A direct upload in progress: the client sends the bytes to ``key`` (under
    ``incoming/``), then completes it; ``image_id`` is set once completed."""

    id: str
    key: str
    filename: str | None
    content_type: str
    size: int  # declared by the client; the object may not be larger
    state: UploadState
    created_at: datetime
    expires_at: datetime
    title: str | None = None
    description: str | None = None
    image_id: str | None = None


class UploadSessionStore(Protocol):
    """Upload sessions (presigned or app-signed direct uploads) in the metadata database."""

    async def create_upload_session(self, session: UploadSession) -> None: ...

    async def get_upload_session(self, session_id: str) -> UploadSession | None: ...

    async def claim_upload_session(
        self, session_id: str, *, stale_after: float
    ) -> UploadSession | None:
        """Move a pending session to completing (or take over a completing claim older
        than ``stale_after`` seconds, left by a crash); None if it cannot be claimed."""
        ...

    async def finish_upload_session(
        self, session_id: str, state: UploadState, *, image_id: str | None = None
    ) -> None:
        """Leave the completing state: back to pending, or to completed or failed."""
        ...

    async def open_upload_keys(self, *, expiring_after: datetime) -> set[str]:
        """The storage keys of sessions not finished (pending, or being completed) that
        expire after ``expiring_after``: objects that may still be completed."""
        ...

    async def count_stale_upload_sessions(
        self, *, expired_before: datetime, finished_before: datetime
    ) -> int:
        """How many sessions ``delete_stale_upload_sessions`` would delete now."""
        ...

    async def delete_stale_upload_sessions(
        self, *, expired_before: datetime, finished_before: datetime
    ) -> int:
        """Delete the sessions not finished that expired before ``expired_before`` and the
        finished ones (completed or failed) that finished before ``finished_before``;
        returns how many. Completing one of them afterwards answers upload-not-found."""
        ...


class MetadataStore(Protocol):
    async def create_image(
        self, image: Image, blob: Blob, jobs_if_new: Sequence[NewJob]
    ) -> CreatedImage:
        """In one transaction: reference (or create) ``blob``, insert ``image`` and, when
        the blob is new, the ``jobs_if_new`` that process it (outbox).

        Raises ``Conflict`` if the blob is being deleted right now (retry later) and
        retries internally on public-id collisions.
        """
        ...

    async def get_image(self, public_id: str) -> Image | None: ...

    async def delete_image(
        self, public_id: str, *, purge_job: str | None = None
    ) -> DeletedImage | None:
        """Remove the image; at refcount 0 the blob is marked ``deleting`` and, if
        ``purge_job`` names a job kind, a job ``{"hash": ...}`` that purges it is
        committed with it."""
        ...

    async def get_blob(self, content_hash: str) -> Blob | None:
        """An active blob (one being deleted is not returned)."""
        ...

    async def claim_purge(self, content_hash: str, *, stale_after: float) -> list[str] | None:
        """Claim a blob marked for deletion and return the storage keys to remove (its
        original and every variant). None if it is not to be purged, or another purger
        holds it (a claim older than ``stale_after`` seconds is taken over)."""
        ...

    async def release_purge(self, content_hash: str) -> None:
        """Give a claim back (the purge failed; it will be retried)."""
        ...

    async def forget_blob(self, content_hash: str) -> None:
        """Drop a claimed blob's row and variant rows, once its objects are gone."""
        ...

    async def blobs_to_purge(self) -> list[str]: ...

    async def key_in_use(self, key: str) -> bool:
        """Does any row (of a blob in any state) point at this storage key?"""
        ...

    async def get_variant(self, content_hash: str, name: str, fmt: str) -> Variant | None: ...

    async def add_variant(self, variant: Variant) -> bool:
        """Record a stored variant; False if the blob is gone (the caller removes the object)."""
        ...

    async def set_blob_status(self, content_hash: str, status: str) -> None:
        """Set the processing status of a blob and of every image using it."""
        ...

    async def set_blob_placeholder(self, blob_hash: str, placeholder: Placeholder) -> None:
        """Record the placeholder (BlurHash and dominant colour) of a blob; every image
        using it shows it while loading. Idempotent: a retried job writes it again."""
        ...

    async def known_keys(self) -> set[str]:
        """Every storage key that some row points at (for garbage collection)."""
        ...

    async def ping(self) -> None: ...
