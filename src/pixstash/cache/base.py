"""The SingleFlight port: at most one holder per key does a piece of work at a time."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Protocol

# scheme -> "module:Class"; imported lazily by the composition root.
SCHEMES: dict[str, str] = {
    "memory": "pixstash.cache.memory:MemorySingleFlight",
}


class SingleFlight(Protocol):
    def hold(self, key: str) -> AbstractAsyncContextManager[None]:
        """Wait until no one else holds ``key``, then hold it for the block."""
        ...

    async def close(self) -> None: ...
