"""One contract for every SingleFlight backend (memory, Redis), then what only Redis does.

Redis is ``PIXSTASH_TEST_REDIS_URL`` (default: the server on 127.0.0.1:6379, db 15). Each
test uses a random key prefix and deletes only its own keys. Without a Redis the Redis
tests are skipped, loudly, except under CI=true, where they fail.
"""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from urllib.parse import urlsplit

import anyio
import pytest
from anyio.abc import SocketStream
from redis.asyncio import Redis

from pixstash.cache.base import SingleFlight
from pixstash.cache.memory import MemorySingleFlight
from pixstash.cache.redis import RedisSingleFlight
from pixstash.errors import BackendUnavailable, CacheUnavailable

pytestmark = pytest.mark.anyio


FlightFactory = Callable[..., RedisSingleFlight]


class RedisFlights:
    """Makes RedisSingleFlight instances ("servers") sharing one random key prefix."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.prefix = f"pixstash-test:{secrets.token_hex(6)}:sf:"
        self.made: list[RedisSingleFlight] = []

    def make(self, lease_seconds: float = 60.0, url: str | None = None) -> RedisSingleFlight:
        query = f"prefix={self.prefix}&lease_seconds={lease_seconds}"
        flight = RedisSingleFlight.from_url(f"{url or self.url}?{query}")
        self.made.append(flight)
        return flight

    async def aclose(self) -> None:
        """Close every instance and delete this test's keys, and only those."""
        for flight in self.made:
            await flight.close()
        admin = Redis.from_url(self.url)
        async for key in admin.scan_iter(match=f"{self.prefix}*"):
            await admin.delete(key)
        await admin.aclose()


@pytest.fixture
async def redis_flights(redis_url: str) -> AsyncIterator[FlightFactory]:
    flights = RedisFlights(redis_url)
    yield flights.make
    await flights.aclose()


@pytest.fixture(params=["memory", "redis"])
async def flight(request: pytest.FixtureRequest) -> AsyncIterator[SingleFlight]:
    backend: SingleFlight
    redis_flights = None
    if request.param == "memory":
        backend = MemorySingleFlight.from_url("memory://")
    else:
        redis_flights = RedisFlights(request.getfixturevalue("redis_url"))
        backend = redis_flights.make()
    await backend.check()
    yield backend
    if redis_flights is not None:
        await redis_flights.aclose()  # closes the instances too
    else:
        await backend.close()


class OverlapCounter:
    """Counts holders inside a block at once; ``most`` must stay 1."""

    def __init__(self) -> None:
        self.inside = 0
        self.most = 0
        self.entered = 0

    async def run(
        self, flight: SingleFlight, key: str, work: Callable[[], Awaitable[None]]
    ) -> None:
        async with flight.hold(key):
            self.inside += 1
            self.entered += 1
            self.most = max(self.most, self.inside)
            try:
                await work()
            finally:
                self.inside -= 1


async def _checkpoints() -> None:
    for _ in range(5):
        await anyio.lowlevel.checkpoint()


async def _enter(flight: SingleFlight, key: str) -> None:
    async with flight.hold(key):
        pass


# --- the contract: every backend ---------------------------------------------------------


async def test_one_holder_per_key_at_a_time(flight: SingleFlight) -> None:
    counter = OverlapCounter()
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            for _ in range(10):
                tg.start_soon(counter.run, flight, "k", _checkpoints)
    assert counter.entered == 10
    assert counter.most == 1


async def test_other_keys_do_not_wait(flight: SingleFlight) -> None:
    async with flight.hold("a"):
        with anyio.fail_after(2):
            await _enter(flight, "b")


async def test_a_cancelled_waiter_does_not_keep_others_waiting(flight: SingleFlight) -> None:
    await _cancelled_waiter_scenario(flight, flight, flight)


async def _cancelled_waiter_scenario(
    holder_flight: SingleFlight, waiter_flight: SingleFlight, second_flight: SingleFlight
) -> None:
    """A holder, a waiter that gets cancelled, a second waiter: the second gets in."""
    held, release, second_done = anyio.Event(), anyio.Event(), anyio.Event()
    waiter_scope = anyio.CancelScope()

    async def holder() -> None:
        async with holder_flight.hold("k"):
            held.set()
            await release.wait()

    async def waiter() -> None:
        with waiter_scope:
            await _enter(waiter_flight, "k")
            pytest.fail("the cancelled waiter entered")

    async def second() -> None:
        await _enter(second_flight, "k")
        second_done.set()

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(holder)
            await held.wait()
            tg.start_soon(waiter)
            await anyio.wait_all_tasks_blocked()  # the waiter is queued on the key
            tg.start_soon(second)
            await anyio.wait_all_tasks_blocked()
            waiter_scope.cancel()
            release.set()
            await second_done.wait()
    assert waiter_scope.cancelled_caught


async def test_an_exception_in_the_block_releases_the_key(flight: SingleFlight) -> None:
    with pytest.raises(KeyError):  # the block's own exception, not a wrapper
        async with flight.hold("k"):
            raise KeyError("boom")
    with anyio.fail_after(2):
        await _enter(flight, "k")


async def test_a_cancelled_block_releases_the_key(flight: SingleFlight) -> None:
    with anyio.CancelScope() as scope:
        async with flight.hold("k"):
            scope.cancel()
            await anyio.lowlevel.checkpoint()
    with anyio.fail_after(2):
        await _enter(flight, "k")


async def test_check_passes_when_the_backend_is_up(flight: SingleFlight) -> None:
    await flight.check()


# --- Redis only: what several servers share -----------------------------------------------


async def test_two_servers_exclude_each_other(redis_flights: FlightFactory) -> None:
    servers = [redis_flights(), redis_flights()]
    counter = OverlapCounter()

    async def render() -> None:
        await anyio.sleep(0.005)  # the block's own work, long enough to be overlapped

    with anyio.fail_after(20):
        async with anyio.create_task_group() as tg:
            for i in range(12):
                tg.start_soon(counter.run, servers[i % 2], "variant:abc:m:webp", render)
    assert counter.entered == 12
    assert counter.most == 1


async def test_a_cancelled_waiter_on_another_server_leaves_no_lock(
    redis_flights: FlightFactory,
) -> None:
    await _cancelled_waiter_scenario(redis_flights(), redis_flights(), redis_flights())


async def test_the_lease_is_extended_while_the_block_runs(redis_flights: FlightFactory) -> None:
    lease = 0.5
    flight, other = redis_flights(lease_seconds=lease), redis_flights(lease_seconds=lease)
    admin = flight._client
    name = flight.prefix + "k"
    entered, finish = anyio.Event(), anyio.Event()

    async def long_block() -> None:
        async with flight.hold("k"):
            entered.set()
            await finish.wait()

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(long_block)
            await entered.wait()
            token = await admin.get(name)
            start, last_ttl, refreshed = time.monotonic(), await admin.pttl(name), 0
            while time.monotonic() - start < 3 * lease:  # outlive the first lease thrice
                await anyio.sleep(lease / 10)  # sampling the TTL, not synchronising
                assert await admin.get(name) == token
                ttl = await admin.pttl(name)
                refreshed += ttl > last_ttl
                last_ttl = ttl
            assert refreshed >= 2
            with anyio.move_on_after(lease) as attempt:  # another server still waits
                await _enter(other, "k")
            assert attempt.cancelled_caught
            finish.set()
    assert await admin.exists(name) == 0


async def test_a_dead_holders_lock_expires(redis_flights: FlightFactory) -> None:
    flight = redis_flights()
    name = flight.prefix + "k"
    await flight._client.set(name, b"token-of-a-crashed-server", px=300)
    started = time.monotonic()
    with anyio.fail_after(5):
        async with flight.hold("k"):
            assert await flight._client.get(name) != b"token-of-a-crashed-server"
    assert time.monotonic() - started >= 0.25


async def test_an_outage_answers_503_and_recovery_needs_no_restart(
    redis_flights: FlightFactory, redis_url: str
) -> None:
    target = urlsplit(redis_url)
    db = target.path
    async with _forwarding(target.hostname or "127.0.0.1", target.port or 6379) as port:
        flight = redis_flights(url=f"redis://127.0.0.1:{port}{db}")
        await _enter(flight, "k")
    # Redis gone (the proxy closed its port and every connection): fail fast, with our error
    with anyio.fail_after(3):
        with pytest.raises(CacheUnavailable) as caught:
            await _enter(flight, "k")
        with pytest.raises(BackendUnavailable):
            await flight.check()
    assert caught.value.status == 503
    assert caught.value.code == "backend-unavailable"
    async with _forwarding(target.hostname or "127.0.0.1", target.port or 6379, port):
        with anyio.fail_after(3):  # the same instance reconnects
            await flight.check()
            await _enter(flight, "k")


@contextlib.asynccontextmanager
async def _forwarding(host: str, port: int, listen_port: int = 0) -> AsyncIterator[int]:
    """A TCP proxy to host:port; leaving the block closes its port and connections."""
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=listen_port)

    async def pipe(source: SocketStream, sink: SocketStream) -> None:
        with contextlib.suppress(anyio.EndOfStream, anyio.BrokenResourceError):
            async for chunk in source:
                await sink.send(chunk)

    async def forward(client: SocketStream) -> None:
        upstream = await anyio.connect_tcp(host, port)
        async with client, upstream, anyio.create_task_group() as tg:
            tg.start_soon(pipe, client, upstream)
            await pipe(upstream, client)
            tg.cancel_scope.cancel()

    async with listener, anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, forward)
        yield listener.extra(anyio.abc.SocketAttribute.local_port)
        tg.cancel_scope.cancel()
