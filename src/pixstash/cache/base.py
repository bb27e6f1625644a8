"""The SingleFlight port: at most one holder per key does a piece of work at a time."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Protocol

# scheme -> "module:Class"; imported lazily by the composition root.
SCHEMES: dict[str, str] = {
    "memory": "pixstash.cache.memory:MemorySingleFlight",
    "redis": "pixstash.cache.redis:RedisSingleFlight",
    "rediss": "pixstash.cache.redis:RedisSingleFlight",
}


class SingleFlight(Protocol):
    def hold(self, key: str) -> AbstractAsyncContextManager[None]:
        """Wait until no one else holds ``key``, then hold it for the block.

        Raises CacheUnavailable when the backend cannot be reached; the block then
        does not run.
        """
        ...

    async def check(self) -> None:
        """Raise CacheUnavailable unless the backend answers (for /readyz)."""
        ...

    async def close(self) -> None: ...
