from __future__ import annotations

import asyncio

import pytest

from pixstash.cache.memory import MemorySingleFlight

pytestmark = pytest.mark.anyio


async def test_one_holder_per_key_at_a_time() -> None:
    flight = MemorySingleFlight()
    inside = 0
    most = 0

    async def work() -> None:
        nonlocal inside, most
        async with flight.hold("k"):
            inside += 1
            most = max(most, inside)
            await asyncio.sleep(0)
            inside -= 1

    await asyncio.gather(*(work() for _ in range(20)))
    assert most == 1
    assert flight._locks == {}


async def test_other_keys_do_not_wait() -> None:
    flight = MemorySingleFlight()
    async with flight.hold("a"):
        await asyncio.wait_for(_enter(flight, "b"), 1)


async def _enter(flight: MemorySingleFlight, key: str) -> None:
    async with flight.hold(key):
        pass


async def test_check_is_always_ready() -> None:
    await MemorySingleFlight().check()
