"""The BlobStore port: keyed, immutable objects.

Keys look like ``original/ab/cd/<hash>.jpg``; writes are atomic (a reader sees the whole
object or nothing). Backends raise only pixstash errors: ``BlobMissing`` for an absent
key, ``StorageUnavailable`` when the backend itself fails.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from pixstash.errors import BadRequest

# scheme -> "module:Class"; imported lazily by the composition root.
SCHEMES: dict[str, str] = {
    "file": "pixstash.storage.local:LocalBlobStore",
    "memory": "pixstash.storage.memory:MemoryBlobStore",
    "s3": "pixstash.storage.s3:S3BlobStore",
}


@dataclass(frozen=True, slots=True)
class StoredObject:
    key: str
    size: int
    modified: datetime


@dataclass(frozen=True, slots=True)
class PresignedPost:
    """An HTML-form style upload straight to the store: POST ``fields`` then ``file``
    (multipart/form-data, the file last) to ``url``."""

    url: str
    fields: dict[str, str]


class BlobStore(Protocol):
    async def put_file(self, key: str, path: Path) -> None:
        """Store a copy of the file at ``path`` under ``key``; ``path`` stays the caller's."""
        ...

    async def put_bytes(self, key: str, data: bytes) -> None: ...

    async def get_bytes(self, key: str) -> bytes: ...

    async def read_head(self, key: str, length: int) -> bytes:
        """The first ``length`` bytes of the object (fewer if it is shorter)."""
        ...

    async def download(self, key: str, dest: Path) -> None:
        """Copy the object to a local file (for decoders that need a path)."""
        ...

    async def stat(self, key: str) -> StoredObject | None: ...

    async def delete(self, key: str) -> None:
        """Remove ``key``; removing an absent key is not an error."""
        ...

    def iter_objects(self, prefix: str = "") -> AsyncIterator[StoredObject]: ...

    def local_path(self, key: str) -> Path | None:
        """A filesystem path for ``key`` when the backend is local disk, else None."""
        ...

    async def presigned_post(
        self, key: str, *, content_type: str, max_bytes: int, expires_seconds: int
    ) -> PresignedPost | None:
        """A presigned POST whose policy allows one object of 1..``max_bytes`` bytes with
        exactly ``content_type`` under ``key``, or None when clients cannot reach the store
        directly (local disk, memory): then the app receives the bytes itself."""
        ...

    def direct_upload_origin(self) -> str | None:
        """The origin (``scheme://host[:port]``) that ``presigned_post`` sends browsers
        to, or None when they upload to the app itself. The pages' Content-Security-Policy
        must allow it (``connect-src``), and the store must allow the app's origin (CORS).
        Local work only: no request to the store."""
        ...

    async def sweep_incomplete(self, older_than_seconds: float) -> int:
        """Remove leftovers of interrupted writes; returns how many."""
        ...

    async def check(self) -> None:
        """Raise StorageUnavailable unless the backend answers (for /readyz)."""
        ...

    async def close(self) -> None: ...


def validate_key(key: str) -> str:
    parts = key.split("/")
    if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise BadRequest(f"Invalid storage key {key!r}.")
    return key
