"""Give memory freed by a decode back to the operating system.

glibc keeps what a thread frees in that thread's arena, for the next allocation, and
only shrinks an arena from its top. After one large decode in a worker thread (1000
animation frames, a 49 MP PNG) a server kept ~300 MB more resident for good, and the
next large job added to it (measured by tests/hostile/test_server.py).
``malloc_trim(0)`` hands every free page back; with little to free it costs ~1 us.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable

_Trim = Callable[[int], int]


def _find_malloc_trim() -> _Trim | None:
    try:
        trim: _Trim = ctypes.CDLL(None).malloc_trim  # glibc only
    except (OSError, AttributeError):
        return None  # musl, macOS: nothing to do
    return trim


_malloc_trim = _find_malloc_trim()


def release_free_memory() -> None:
    """Return freed heap pages to the OS (no-op where libc cannot)."""
    if _malloc_trim is not None:
        _malloc_trim(0)
