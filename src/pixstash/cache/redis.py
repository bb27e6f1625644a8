"""Single-flight locks shared by every server, in Redis (``redis://host:6379/0``).

One lock per key, through redis-py's asyncio ``Lock``: ``SET key token NX PX lease`` with
a random token, released by a Lua script that deletes the key only while it still holds
that token. The lock is a lease: while the block runs, a background task resets its TTL
every third of the lease, so a long render keeps it and a crashed server's lock expires
by itself. Waiters of one server queue in process first (MemorySingleFlight), so only
one of them polls Redis, retrying ``SET NX`` with a jittered backoff capped at 0.2 s.

The lock only stops servers from doing the same work twice; the work itself (a variant)
is idempotent and written atomically. So a lease lost during an outage is logged, not
fatal to the block, while a Redis that cannot be reached before the block starts raises
CacheUnavailable (503). The client reconnects by itself once Redis is back.

URL: ``redis[s]://[user:password@]host:port/db`` with redis-py's options
(``socket_timeout``, ``socket_connect_timeout``, ``max_connections``, ...) and ours:
``prefix`` (default ``pixstash:sf:``) and ``lease_seconds`` (default 60).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
from collections.abc import AsyncIterator, Iterator
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import anyio
from redis.asyncio import Redis
from redis.asyncio.connection import URL_QUERY_ARGUMENT_PARSERS
from redis.asyncio.lock import Lock
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import LockNotOwnedError, RedisError

from pixstash.cache.memory import MemorySingleFlight
from pixstash.errors import CacheUnavailable, ConfigurationError

log = logging.getLogger(__name__)

DEFAULT_PREFIX = "pixstash:sf:"
DEFAULT_LEASE_SECONDS = 60.0
_OWN_OPTIONS = frozenset({"prefix", "lease_seconds"})
# redis-py options given as strings, beside those it parses (URL_QUERY_ARGUMENT_PARSERS)
_STRING_OPTIONS = frozenset(
    {"client_name", "ssl_cert_reqs", "ssl_ca_certs", "ssl_ca_path", "ssl_certfile", "ssl_keyfile"}
)
_FIRST_BACKOFF = 0.01
_MAX_BACKOFF = 0.2
_CLEANUP_SECONDS = 1.0  # budget for releasing a lock on the way out; the lease covers the rest


class RedisSingleFlight:
    def __init__(
        self,
        client: Redis,
        *,
        prefix: str = DEFAULT_PREFIX,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
    ) -> None:
        self._client = client
        self.prefix = prefix
        self.lease_seconds = lease_seconds
        self._local = MemorySingleFlight()

    @classmethod
    def from_url(cls, url: str) -> RedisSingleFlight:
        """A client for ``url``; connects lazily, so a Redis that is down does not stop
        start-up (requests that need it answer 503 and /readyz says why)."""
        parts = urlsplit(url)
        query = parse_qsl(parts.query, keep_blank_values=True)
        own = {name: value for name, value in query if name in _OWN_OPTIONS}
        theirs = [(name, value) for name, value in query if name not in _OWN_OPTIONS]
        known = _OWN_OPTIONS | _STRING_OPTIONS | set(URL_QUERY_ARGUMENT_PARSERS)
        unknown = sorted({name for name, _ in theirs} - known)
        if unknown:
            raise ConfigurationError(
                f"Unknown option(s) {', '.join(unknown)} in PIXSTASH_CACHE_URL; "
                f"valid: {', '.join(sorted(known))}"
            )
        try:
            lease_seconds = float(own.get("lease_seconds", DEFAULT_LEASE_SECONDS))
        except ValueError:
            lease_seconds = 0.0
        if not lease_seconds > 0:
            raise ConfigurationError("lease_seconds in PIXSTASH_CACHE_URL must be > 0.")
        try:
            # Defaults that fail fast during an outage; options in the URL win.
            client = Redis.from_url(
                urlunsplit(parts._replace(query=urlencode(theirs))),
                socket_connect_timeout=2.0,
                socket_timeout=5.0,
                retry=Retry(ExponentialWithJitterBackoff(base=0.02, cap=0.25), retries=1),
                health_check_interval=30,
            )
        except ValueError as exc:
            raise ConfigurationError(f"Invalid PIXSTASH_CACHE_URL: {exc}") from None
        prefix = own.get("prefix", DEFAULT_PREFIX)
        return cls(client, prefix=prefix, lease_seconds=lease_seconds)

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        async with self._local.hold(key):  # one waiter per key and process polls Redis
            lock = Lock(
                self._client, self.prefix + key, timeout=self.lease_seconds, thread_local=False
            )
            await self._acquire(lock)
            # A plain task, not a task group: a group would wrap the block's own
            # exception in an ExceptionGroup, and callers match on ours.
            renewal = asyncio.create_task(self._renew(lock), name=f"renew {lock.name!r}")
            try:
                yield
            finally:
                renewal.cancel()
                with anyio.move_on_after(_CLEANUP_SECONDS, shield=True):
                    await asyncio.wait({renewal})
                    await self._release(lock)

    async def check(self) -> None:
        with self._translated("reach"):
            await self._client.ping()

    async def close(self) -> None:
        await self._local.close()
        await self._client.aclose()

    async def _acquire(self, lock: Lock) -> None:
        token = secrets.token_hex(16).encode()
        delay = _FIRST_BACKOFF
        while True:
            try:
                with self._translated(f"lock {lock.name!r} in"):
                    if await lock.acquire(blocking=False, token=token):
                        return
            except BaseException:
                # A cancellation or a dropped connection can land after Redis ran SET NX:
                # give the key back now rather than make every other server wait a lease.
                with anyio.move_on_after(_CLEANUP_SECONDS, shield=True):
                    with contextlib.suppress(RedisError):
                        await lock.do_release(token)
                raise
            await anyio.sleep(random.uniform(delay / 2, delay))
            delay = min(delay * 2, _MAX_BACKOFF)

    async def _renew(self, lock: Lock) -> None:
        """Keep the lease while the block runs: reset its TTL every third of it."""
        while True:
            await anyio.sleep(self.lease_seconds / 3)
            try:
                await lock.reacquire()
            except LockNotOwnedError:
                log.warning(
                    "single-flight lock %r expired while held (Redis unreachable for a "
                    "lease?); another server may do the same work",
                    lock.name,
                )
                return
            except RedisError as exc:  # transient: the next round may succeed in time
                log.warning("could not renew single-flight lock %r: %s", lock.name, exc)

    async def _release(self, lock: Lock) -> None:
        try:
            await lock.release()
        except LockNotOwnedError:
            log.warning("single-flight lock %r had expired before its block ended", lock.name)
        except RedisError as exc:
            log.warning(
                "could not release single-flight lock %r (%s); it expires within %.0f s",
                lock.name,
                exc,
                self.lease_seconds,
            )

    @contextlib.contextmanager
    def _translated(self, action: str) -> Iterator[None]:
        """Redis errors become CacheUnavailable: no redis-py exception crosses the port."""
        try:
            yield
        except RedisError as exc:
            raise CacheUnavailable(f"Could not {action} Redis at {self._where}: {exc}") from exc

    @property
    def _where(self) -> str:
        """host:port/db, never the password."""
        kwargs = self._client.connection_pool.connection_kwargs
        if "path" in kwargs:
            return f"unix:{kwargs['path']}"
        return f"{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}/{kwargs.get('db', 0)}"
