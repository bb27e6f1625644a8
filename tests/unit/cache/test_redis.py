"""RedisSingleFlight without a Redis: its URL, and what it does when Redis is not there.

Behaviour against a live Redis is in tests/contract/test_singleflight.py.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Callable

import anyio
import pytest

from pixstash.cache import base
from pixstash.cache.redis import DEFAULT_LEASE_SECONDS, DEFAULT_PREFIX, RedisSingleFlight
from pixstash.errors import BackendUnavailable, CacheUnavailable, ConfigurationError
from pixstash.wiring import backend_class

pytestmark = pytest.mark.anyio


@pytest.fixture
def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
async def flights() -> AsyncIterator[Callable[[str], RedisSingleFlight]]:
    made: list[RedisSingleFlight] = []

    def make(url: str) -> RedisSingleFlight:
        made.append(RedisSingleFlight.from_url(url))
        return made[-1]

    yield make
    for flight in made:
        await flight.close()


@pytest.mark.parametrize("scheme", ["redis", "rediss"])
def test_the_scheme_table_names_the_redis_backend(scheme: str) -> None:
    assert backend_class("cache", f"{scheme}://h:6379/0", base.SCHEMES) is RedisSingleFlight


async def test_url_gives_host_db_and_defaults(flights: Callable[[str], RedisSingleFlight]) -> None:
    flight = flights("redis://cache.internal:6380/3")
    options = flight._client.connection_pool.connection_kwargs
    assert (options["host"], options["port"], options["db"]) == ("cache.internal", 6380, 3)
    assert flight.prefix == DEFAULT_PREFIX == "pixstash:sf:"
    assert flight.lease_seconds == DEFAULT_LEASE_SECONDS
    assert options["socket_connect_timeout"] == 2.0  # fails fast during an outage


async def test_url_options_are_ours_and_redis_pys(
    flights: Callable[[str], RedisSingleFlight],
) -> None:
    flight = flights("redis://h/0?prefix=blue:sf:&lease_seconds=5&socket_connect_timeout=0.5")
    assert flight.prefix == "blue:sf:"
    assert flight.lease_seconds == 5.0
    assert flight._client.connection_pool.connection_kwargs["socket_connect_timeout"] == 0.5


@pytest.mark.parametrize(
    "url",
    [
        "redis://h/0?lease=5",  # a typo stops start-up instead of failing on first use
        "redis://h/0?lease_seconds=0",
        "redis://h/0?lease_seconds=soon",
        "redis://h/0?socket_timeout=never",
    ],
)
def test_bad_urls_stop_start_up(url: str) -> None:
    with pytest.raises(ConfigurationError):
        RedisSingleFlight.from_url(url)


async def test_redis_down_fails_fast_with_503(
    flights: Callable[[str], RedisSingleFlight], closed_port: int
) -> None:
    flight = flights(f"redis://:hunter2@127.0.0.1:{closed_port}/0")
    with anyio.fail_after(3):
        with pytest.raises(CacheUnavailable) as caught:
            async with flight.hold("variant:abc:m:webp"):
                pytest.fail("the block ran without the lock")
        with pytest.raises(BackendUnavailable):
            await flight.check()
    error = caught.value
    assert (error.status, error.code) == (503, "backend-unavailable")
    assert f"127.0.0.1:{closed_port}/0" in error.message
    assert "hunter2" not in error.message
    assert isinstance(error.__cause__, Exception)  # chained, for the logs


async def test_a_waiter_on_a_down_redis_frees_its_local_place(
    flights: Callable[[str], RedisSingleFlight], closed_port: int
) -> None:
    flight = flights(f"redis://127.0.0.1:{closed_port}/0")
    for _ in range(2):
        with anyio.fail_after(3), pytest.raises(CacheUnavailable):
            async with flight.hold("k"):
                pytest.fail("the block ran without the lock")
    assert flight._local._locks == {}
