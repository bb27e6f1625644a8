"""Blobs on local disk: atomic writes (temp file, fsync, rename), sharded by hash."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import anyio.to_thread

from pixstash.errors import BlobMissing, StorageUnavailable
from pixstash.storage.base import PresignedPost, StoredObject, validate_key


def _blob_mode() -> int:
    """Read-write for the owner, readable as the umask allows (0644 under umask 022), so
    a web server in the service's group or with its umask (nginx serving X-Accel-Redirect)
    can read blobs; temporary files would otherwise leave them 0600."""
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


BLOB_MODE = _blob_mode()


class LocalBlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self._staging = self.root / ".staging"

    @classmethod
    def from_url(cls, url: str) -> LocalBlobStore:
        """``file://./var/blobs`` (relative) or ``file:///srv/pixstash/blobs`` (absolute)."""
        parts = urlsplit(url)
        return cls(Path(parts.netloc + parts.path))

    def _path(self, key: str) -> Path:
        return self.root / validate_key(key)

    async def put_file(self, key: str, path: Path) -> None:
        await anyio.to_thread.run_sync(self._put_file, self._path(key), path)

    async def put_bytes(self, key: str, data: bytes) -> None:
        await anyio.to_thread.run_sync(self._put_bytes, self._path(key), data)

    def _put_file(self, final: Path, source: Path) -> None:
        """Hard-link the source into staging (no copy on one filesystem), then rename."""
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
            self._staging.mkdir(parents=True, exist_ok=True)
            tmp = self._staging / f"link-{os.getpid()}-{time.monotonic_ns()}"
            try:
                os.link(source, tmp)
            except OSError:  # another filesystem, or no hard links: copy
                shutil.copyfile(source, tmp)
            try:
                with open(tmp, "rb+") as handle:
                    os.fchmod(handle.fileno(), BLOB_MODE)
                    os.fsync(handle.fileno())
                os.replace(tmp, final)
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
            _fsync_dir(final.parent)
        except OSError as exc:
            raise StorageUnavailable(f"Could not write blob: {exc.strerror}") from exc

    def _put_bytes(self, final: Path, data: bytes) -> None:
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
            self._staging.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self._staging, prefix="put-")
            try:
                with os.fdopen(fd, "wb") as handle:
                    os.fchmod(handle.fileno(), BLOB_MODE)
                    handle.write(data)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(tmp, final)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            _fsync_dir(final.parent)
        except OSError as exc:
            raise StorageUnavailable(f"Could not write blob: {exc.strerror}") from exc

    async def get_bytes(self, key: str) -> bytes:
        return await anyio.to_thread.run_sync(self._read, self._path(key))

    def _read(self, path: Path) -> bytes:
        try:
            return path.read_bytes()
        except FileNotFoundError:
            raise BlobMissing(f"Blob {path.relative_to(self.root)} is missing.") from None
        except OSError as exc:
            raise StorageUnavailable(f"Could not read blob: {exc.strerror}") from exc

    async def read_head(self, key: str, length: int) -> bytes:
        path = self._path(key)

        def read() -> bytes:
            try:
                with open(path, "rb") as handle:
                    return handle.read(length)
            except FileNotFoundError:
                raise BlobMissing(f"Blob {key} is missing.") from None
            except OSError as exc:
                raise StorageUnavailable(f"Could not read blob: {exc.strerror}") from exc

        return await anyio.to_thread.run_sync(read)

    async def download(self, key: str, dest: Path) -> None:
        source = self._path(key)

        def copy() -> None:
            try:
                shutil.copyfile(source, dest)
            except FileNotFoundError:
                raise BlobMissing(f"Blob {key} is missing.") from None
            except OSError as exc:
                raise StorageUnavailable(f"Could not read blob: {exc.strerror}") from exc

        await anyio.to_thread.run_sync(copy)

    async def stat(self, key: str) -> StoredObject | None:
        path = self._path(key)

        def do_stat() -> StoredObject | None:
            try:
                st = path.stat()
            except FileNotFoundError:
                return None
            return StoredObject(key, st.st_size, datetime.fromtimestamp(st.st_mtime, UTC))

        return await anyio.to_thread.run_sync(do_stat)

    async def delete(self, key: str) -> None:
        path = self._path(key)
        try:
            await anyio.to_thread.run_sync(path.unlink, True)
        except OSError as exc:
            raise StorageUnavailable(f"Could not delete blob: {exc.strerror}") from exc

    async def iter_objects(self, prefix: str = "") -> AsyncIterator[StoredObject]:
        found = await anyio.to_thread.run_sync(self._scan, prefix)
        for item in found:
            yield item

    def _scan(self, prefix: str) -> list[StoredObject]:
        found: list[StoredObject] = []
        if not self.root.is_dir():
            return found
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            for name in filenames:
                path = Path(dirpath) / name
                key = path.relative_to(self.root).as_posix()
                if not key.startswith(prefix):
                    continue
                try:
                    st = path.stat()
                except FileNotFoundError:
                    continue
                found.append(
                    StoredObject(key, st.st_size, datetime.fromtimestamp(st.st_mtime, UTC))
                )
        return found

    def local_path(self, key: str) -> Path | None:
        return self._path(key)

    async def presigned_post(
        self, key: str, *, content_type: str, max_bytes: int, expires_seconds: int
    ) -> PresignedPost | None:
        return None  # clients send the bytes to the app, which signs its own URL

    def direct_upload_origin(self) -> str | None:
        return None

    async def sweep_incomplete(self, older_than_seconds: float) -> int:
        def sweep() -> int:
            if not self._staging.is_dir():
                return 0
            cutoff = time.time() - older_than_seconds
            removed = 0
            for entry in self._staging.iterdir():
                try:
                    if entry.stat().st_mtime < cutoff:
                        entry.unlink()
                        removed += 1
                except FileNotFoundError:
                    continue
            return removed

        return await anyio.to_thread.run_sync(sweep)

    async def check(self) -> None:
        def probe() -> None:
            try:
                self.root.mkdir(parents=True, exist_ok=True)
                self._staging.mkdir(parents=True, exist_ok=True)
                if not os.access(self._staging, os.W_OK):
                    raise StorageUnavailable(f"{self.root} is not writable.")
            except OSError as exc:
                raise StorageUnavailable(f"Blob directory unusable: {exc.strerror}") from exc

        await anyio.to_thread.run_sync(probe)

    async def close(self) -> None:
        return None


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
