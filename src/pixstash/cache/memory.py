"""Single-flight locks inside one process."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator


class MemorySingleFlight:
    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @classmethod
    def from_url(cls, url: str) -> MemorySingleFlight:
        return cls()

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users <= 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    async def check(self) -> None:
        """Always ready: the locks live in this process."""

    async def close(self) -> None:
        self._locks.clear()
