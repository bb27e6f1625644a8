"""Blobs in process memory: a real BlobStore for tests and throwaway development."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import anyio.to_thread

from pixstash.errors import BlobMissing
from pixstash.storage.base import PresignedPost, StoredObject, validate_key


class MemoryBlobStore:
    def __init__(self) -> None:
        self._objects: dict[str, tuple[bytes, datetime]] = {}

    @classmethod
    def from_url(cls, url: str) -> MemoryBlobStore:
        return cls()

    async def put_file(self, key: str, path: Path) -> None:
        data = await anyio.to_thread.run_sync(path.read_bytes)
        await self.put_bytes(key, data)

    async def put_bytes(self, key: str, data: bytes) -> None:
        self._objects[validate_key(key)] = (bytes(data), datetime.now(UTC))

    async def get_bytes(self, key: str) -> bytes:
        try:
            return self._objects[validate_key(key)][0]
        except KeyError:
            raise BlobMissing(f"Blob {key} is missing.") from None

    async def read_head(self, key: str, length: int) -> bytes:
        return (await self.get_bytes(key))[:length]

    async def download(self, key: str, dest: Path) -> None:
        data = await self.get_bytes(key)
        await anyio.to_thread.run_sync(dest.write_bytes, data)

    async def stat(self, key: str) -> StoredObject | None:
        item = self._objects.get(validate_key(key))
        return None if item is None else StoredObject(key, len(item[0]), item[1])

    async def delete(self, key: str) -> None:
        self._objects.pop(validate_key(key), None)

    async def iter_objects(self, prefix: str = "") -> AsyncIterator[StoredObject]:
        for key, (data, modified) in sorted(self._objects.items()):
            if key.startswith(prefix):
                yield StoredObject(key, len(data), modified)

    def local_path(self, key: str) -> Path | None:
        return None

    async def presigned_post(
        self, key: str, *, content_type: str, max_bytes: int, expires_seconds: int
    ) -> PresignedPost | None:
        return None  # clients send the bytes to the app, which signs its own URL

    def direct_upload_origin(self) -> str | None:
        return None

    async def sweep_incomplete(self, older_than_seconds: float) -> int:
        return 0  # writes are atomic in memory: nothing is ever left half-done

    async def check(self) -> None:
        return None

    async def close(self) -> None:
        return None
