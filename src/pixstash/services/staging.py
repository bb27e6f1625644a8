"""Receiving upload bytes: streamed to a temp file, hashed and size-limited on the way.

The limit is enforced while streaming, so an oversized body is refused before it has
been read in full, and the partial file is removed at once.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import anyio.to_thread

from pixstash.errors import FileTooLarge, StorageUnavailable

SPILL_BYTES = 1024 * 1024


@dataclass(frozen=True, slots=True)
class StagedFile:
    path: Path
    size: int
    sha256: str
    filename: str | None = None

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)


class StagingArea:
    """A directory for bytes in flight; anything left here is stale and may be swept."""

    def __init__(self, root: Path, *, max_bytes: int, memory_budget: int = 64 * 1024**2) -> None:
        self.root = root
        self.max_bytes = max_bytes
        # bytes of uploads in flight held in memory, all writers together; past the
        # budget new bytes go straight to disk
        self.memory_budget = memory_budget
        self.memory_used = 0
        root.mkdir(parents=True, exist_ok=True)

    def open(self, filename: str | None = None, *, max_bytes: int | None = None) -> StagedWriter:
        """``max_bytes`` lowers the limit for this file (a size the client declared)."""
        return StagedWriter(self, filename, max_bytes)

    def temp_path(self, suffix: str = "") -> Path:
        fd, name = tempfile.mkstemp(dir=self.root, prefix="work-", suffix=suffix)
        os.close(fd)
        return Path(name)

    def sweep(self, older_than_seconds: float) -> int:
        """Remove files older than the given age (left by crashes); returns how many."""
        cutoff = time.time() - older_than_seconds
        removed = 0
        for entry in self.root.iterdir():
            try:
                if entry.is_file() and entry.stat().st_mtime < cutoff:
                    entry.unlink()
                    removed += 1
            except FileNotFoundError:
                continue
        return removed


class StagedWriter:
    """Write chunks as they arrive; ``finish`` or ``discard`` exactly once.

    Small uploads stay in memory until ``finish``, which writes them to disk in one
    worker-thread call: creating a file can block for a while on a busy filesystem,
    and must not stall the event loop once per upload. Bodies past ``SPILL_BYTES``
    go to disk as they arrive.
    """

    def __init__(
        self, area: StagingArea, filename: str | None, max_bytes: int | None = None
    ) -> None:
        self.area = area
        self.filename = clean_filename(filename)
        self.max_bytes = area.max_bytes if max_bytes is None else min(max_bytes, area.max_bytes)
        self._buffer = bytearray()
        self._file: IO[bytes] | None = None
        self.path: Path | None = None
        self._hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.max_bytes:
            self.discard()
            if self.max_bytes < self.area.max_bytes:
                raise FileTooLarge(
                    f"The file is larger than the {self.max_bytes} bytes declared for it."
                )
            limit_mb = self.area.max_bytes / (1024 * 1024)
            raise FileTooLarge(f"The file is larger than {limit_mb:g} MB; upload a smaller file.")
        self._hash.update(data)
        if self._file is None and self._may_buffer(len(data)):
            self._buffer += data
            self.area.memory_used += len(data)
            return
        try:
            if self._file is None:
                self._open()
                assert self._file is not None
                self._file.write(self._buffer)
                self._release_buffer()
            self._file.write(data)
        except OSError as exc:  # disk full: a server problem, not the client's
            self.discard()
            raise StorageUnavailable(f"Cannot stage the upload: {exc.strerror}") from exc

    def _open(self) -> None:
        fd, name = tempfile.mkstemp(dir=self.area.root, prefix="upload-")
        self.path = Path(name)
        self._file = os.fdopen(fd, "wb")

    async def finish(self) -> StagedFile:
        try:
            await anyio.to_thread.run_sync(self._flush)
        except OSError as exc:
            self.discard()
            raise StorageUnavailable(f"Cannot stage the upload: {exc.strerror}") from exc
        except BaseException:  # cancelled: the thread may have created the file
            self.discard()
            raise
        self._release_buffer()
        assert self.path is not None
        return StagedFile(self.path, self.size, self._hash.hexdigest(), self.filename)

    def _flush(self) -> None:
        if self._file is None:
            self._open()
            assert self._file is not None
            self._file.write(self._buffer)  # released by the caller, on the event loop
        self._file.close()

    def _may_buffer(self, more: int) -> bool:
        return self.size <= SPILL_BYTES and self.area.memory_used + more <= self.area.memory_budget

    def _release_buffer(self) -> None:
        self.area.memory_used -= len(self._buffer)
        self._buffer = bytearray()

    def discard(self) -> None:
        self._release_buffer()
        if self._file is not None and not self._file.closed:
            self._file.close()
        if self.path is not None:
            self.path.unlink(missing_ok=True)


def clean_filename(name: str | None) -> str | None:
    """Keep a client's file name only as a harmless label (it decides nothing)."""
    if not name:
        return None
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = "".join(ch for ch in base if ch.isprintable() and ch not in "\r\n\x00")
    return cleaned[:255] or None
