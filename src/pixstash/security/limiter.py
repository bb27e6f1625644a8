"""Rate limits on the ``limits`` library: in process memory or in Redis.

The backend follows ``PIXSTASH_CACHE_URL``, like the single-flight locks: ``memory://``
counts in this process; ``redis[s]://host:port/db`` counts in Redis, shared by every
server, with keys under ``<prefix>rl:`` (``prefix`` as for the locks, default
``pixstash:``), so ``?prefix=`` keeps one deployment's or one test's keys apart.

The strategy is limits' moving window: exact (no burst of twice the limit across a
window boundary, as a fixed window allows) and O(log n) per hit in Redis. A rule is one
limit in limits' syntax ("50/hour", "10 per minute").

When Redis cannot be reached, ``on_outage`` decides: ``allow`` lets the request through
(logged as a warning at most every ``_OUTAGE_LOG_SECONDS``), so a cache outage does not
stop uploads that the database and storage could still take; ``refuse`` raises
CacheUnavailable (503 with Retry-After).
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Iterator, Mapping
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError
from redis.asyncio import ConnectionPool
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import RedisError

from pixstash.errors import CacheUnavailable, ConfigurationError
from pixstash.security.base import RateLimitDecision

log = logging.getLogger(__name__)

OnOutage = Literal["allow", "refuse"]
DEFAULT_PREFIX = "pixstash:"
_OWN_OPTIONS = frozenset({"prefix", "lease_seconds"})  # ours, for the cache URL's users
_OUTAGE_LOG_SECONDS = 10.0


def parse_rule(text: str) -> RateLimitItem | None:
    """One limit in limits' syntax ("50/hour"); ``None`` for an empty text (no limit)."""
    text = text.strip()
    if not text:
        return None
    try:
        items = parse_many(text)
    except ValueError:
        items = []
    if len(items) != 1 or items[0].amount < 1:
        raise ConfigurationError(
            f"Invalid rate limit {text!r}: write one limit like '50/hour' or "
            "'10 per minute' (second, minute, hour, day, month, year), or leave it empty "
            "for no limit."
        )
    return items[0]


class LimitsRateLimiter:
    def __init__(
        self,
        storage: Storage,
        rules: Mapping[str, str],
        *,
        on_outage: OnOutage = "allow",
        pool: ConnectionPool | None = None,
        where: str = "memory",
    ) -> None:
        self._storage = storage
        self._strategy = MovingWindowRateLimiter(storage)
        self._rules = {name: parse_rule(text) for name, text in rules.items()}
        self._on_outage = on_outage
        self._pool = pool
        self._where = where
        self._outage_logged_at = -math.inf

    @classmethod
    def from_url(
        cls, url: str, rules: Mapping[str, str], *, on_outage: OnOutage = "allow"
    ) -> LimitsRateLimiter:
        """A limiter for ``url``; Redis connects lazily, so start-up never waits for it."""
        if url.split("://", 1)[0].lower() == "memory":
            return cls(MemoryStorage(), rules, on_outage=on_outage)
        parts = urlsplit(url)
        query = parse_qsl(parts.query, keep_blank_values=True)
        prefix = dict(query).get("prefix", DEFAULT_PREFIX)
        theirs = [(name, value) for name, value in query if name not in _OWN_OPTIONS]
        plain_url = urlunsplit(parts._replace(query=urlencode(theirs)))
        options: dict[str, Any] = {
            # fail fast during an outage, as the single-flight client does
            "socket_connect_timeout": 2.0,
            "socket_timeout": 5.0,
            "retry": Retry(ExponentialWithJitterBackoff(base=0.02, cap=0.25), retries=1),
            "health_check_interval": 30,
        }
        try:
            pool = ConnectionPool.from_url(plain_url, **options)
        except ValueError as exc:
            raise ConfigurationError(f"Invalid PIXSTASH_CACHE_URL: {exc}") from None
        client_options: dict[str, Any] = {"connection_pool": pool}  # ours, to close it
        storage = RedisStorage(
            "async+" + plain_url,
            implementation="redispy",
            key_prefix=prefix + "rl",  # limits adds ":" after it
            **client_options,
        )
        host, port, db = (pool.connection_kwargs.get(k) for k in ("host", "port", "db"))
        where = f"{host or 'localhost'}:{port or 6379}/{db or 0}"  # never the password
        return cls(storage, rules, on_outage=on_outage, pool=pool, where=where)

    async def hit(self, rule: str, key: str, cost: int = 1) -> RateLimitDecision | None:
        item = self._rules[rule]
        if item is None:
            return None
        try:
            with self._translated(f"count {rule!r} in"):
                allowed = await self._strategy.hit(item, rule, key, cost=cost)
                stats = await self._strategy.get_window_stats(item, rule, key)
        except CacheUnavailable as exc:
            if self._on_outage == "refuse":
                raise
            self._log_outage(exc)
            return None
        wait = stats.reset_time - time.time()
        return RateLimitDecision(
            allowed=allowed,
            limit=item.amount,
            remaining=max(0, stats.remaining),
            reset_at=math.ceil(stats.reset_time),
            retry_after=0 if allowed else max(1, math.ceil(wait)),
        )

    async def check(self) -> None:
        if not await self._storage.check():
            raise CacheUnavailable(f"Could not reach Redis at {self._where} (rate limits).")

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()
        elif isinstance(self._storage, MemoryStorage):
            await self._storage.reset()

    @contextlib.contextmanager
    def _translated(self, action: str) -> Iterator[None]:
        """Redis errors (raw or wrapped by limits) become CacheUnavailable."""
        try:
            yield
        except (RedisError, StorageError) as exc:
            raise CacheUnavailable(f"Could not {action} Redis at {self._where}: {exc}") from exc

    def _log_outage(self, exc: CacheUnavailable) -> None:
        now = time.monotonic()
        if now - self._outage_logged_at >= _OUTAGE_LOG_SECONDS:
            self._outage_logged_at = now
            log.warning("rate limits are not enforced while the cache is down: %s", exc)
