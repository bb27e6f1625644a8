"""The ports of the security adapters, one small Protocol each.

Backends raise only pixstash errors (``raise X(...) from exc``); no vendor exception
crosses a port.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

# --- Scanner: malware scanning of every upload --------------------------------

# scheme -> "module:Class"; imported lazily by the composition root. The URL ``none``
# (no ``://``) means the ``none`` scheme.
SCANNER_SCHEMES: dict[str, str] = {
    "none": "pixstash.security.noscan:NoScanner",
    "clamd": "pixstash.security.clamd:ClamdScanner",
}


@dataclass(frozen=True, slots=True)
class Verdict:
    clean: bool
    signature: str | None = None  # what was found, e.g. "Eicar-Signature"; None if clean


class Scanner(Protocol):
    name: str  # how /readyz and logs name this scanner, e.g. "clamd"

    async def scan(self, path: Path) -> Verdict:
        """Scan the file at ``path``.

        Raises ScannerUnavailable when no verdict can be had (unreachable, too slow,
        the file longer than the scanner takes).
        """
        ...

    async def check(self) -> None:
        """Raise ScannerUnavailable unless the scanner answers (for /readyz)."""
        ...

    async def close(self) -> None: ...


# --- Fetcher: URL ingest ("paste a link", Imgur's type=url) -------------------


class Resolver(Protocol):
    async def resolve(self, host: str, port: int) -> list[str]:
        """Every address of ``host`` (IPv4 or IPv6 text, no brackets), in the order to
        try. Raises UrlFetchFailed when the name does not resolve."""
        ...


class ByteSink(Protocol):
    """Where fetched bytes go (a staging file writer); it may refuse (FileTooLarge)."""

    def write(self, data: bytes) -> None: ...


@dataclass(frozen=True, slots=True)
class Fetched:
    url: str  # the final URL, after redirects
    content_type: str | None  # as the server declared it; decides nothing
    size: int


class Fetcher(Protocol):
    async def fetch(self, url: str, sink: ByteSink, *, max_bytes: int) -> Fetched:
        """GET ``url`` into ``sink``, at most ``max_bytes`` of body.

        Raises InvalidUrl (not http(s), credentials, malformed), UrlForbidden (an address
        or port the policy refuses, also after a redirect), TooManyRedirects,
        FileTooLarge (declared or streamed), UrlFetchFailed (DNS, network, TLS, timeout,
        a non-2xx answer). Connects only to addresses it has checked.
        """
        ...


# --- RateLimiter: how often a client may do something --------------------------

# scheme of PIXSTASH_CACHE_URL -> "module:Class"; imported lazily by the composition root.
LIMITER_SCHEMES: dict[str, str] = {
    "memory": "pixstash.security.limiter:LimitsRateLimiter",
    "redis": "pixstash.security.limiter:LimitsRateLimiter",
    "rediss": "pixstash.security.limiter:LimitsRateLimiter",
}

# The rules, each a limit like "50/hour" from the settings (empty: no limit).
UPLOADS_PER_IP = "uploads-per-ip"  # anonymous uploads, keyed by client IP (/64 for IPv6)
UPLOADS_PER_USER = "uploads-per-user"  # keyed by user id
# every request with a Bearer token, keyed by token id
REQUESTS_PER_TOKEN = "requests-per-token"  # noqa: S105 (a rule name, not a secret)
# the Imgur-compatible API: requests per Client-ID, and per client IP with a Client-ID
REQUESTS_PER_CLIENT_ID = "requests-per-client-id"
REQUESTS_PER_IP = "requests-per-ip"
LOGINS_PER_IP = "logins-per-ip"  # log-in and register attempts, keyed by client IP


@dataclass(frozen=True, slots=True)
class RateLimitDecision:
    allowed: bool
    limit: int  # hits the window allows
    remaining: int  # hits left in the window after this one
    reset_at: int  # epoch seconds when the oldest hit in the window expires (a hit frees up)
    retry_after: int  # seconds to wait before retrying; 0 when allowed


class RateLimiter(Protocol):
    async def hit(self, rule: str, key: str, cost: int = 1) -> RateLimitDecision | None:
        """Count ``cost`` hits of ``key`` against ``rule``, unless that would exceed it.

        A refused hit counts nothing. ``None``: the rule has no limit configured, or the
        backend is down and the limiter was built to let requests through then (it logs
        a warning). Otherwise a backend that cannot be reached raises CacheUnavailable.
        """
        ...

    async def check(self) -> None:
        """Raise CacheUnavailable unless the backend answers (for /readyz)."""
        ...

    async def close(self) -> None: ...
