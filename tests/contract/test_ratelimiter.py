"""One contract for every RateLimiter backend (memory, Redis), then what only Redis does.

Redis is ``PIXSTASH_TEST_REDIS_URL`` (default: the server on 127.0.0.1:6379, db 15); each
test uses a random key prefix and deletes only its own keys. Without a Redis the Redis
tests are skipped, loudly, except under CI=true, where they fail.
"""

from __future__ import annotations

import math
import secrets
import time
from collections.abc import AsyncIterator

import anyio
import pytest
from redis.asyncio import Redis

from pixstash.security.base import RateLimitDecision, RateLimiter
from pixstash.security.limiter import LimitsRateLimiter

pytestmark = pytest.mark.anyio

RULES = {"burst": "3/hour", "other": "3/hour", "fast": "2/second", "off": ""}


class RedisLimiters:
    """Makes limiters ("servers") sharing one random key prefix."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.prefix = f"pixstash-test:{secrets.token_hex(6)}:"
        self.made: list[RateLimiter] = []

    def make(self) -> RateLimiter:
        limiter = LimitsRateLimiter.from_url(f"{self.url}?prefix={self.prefix}", RULES)
        self.made.append(limiter)
        return limiter

    async def aclose(self) -> None:
        """Close every limiter and delete this test's keys, and only those."""
        for limiter in self.made:
            await limiter.close()
        admin = Redis.from_url(self.url)
        async for key in admin.scan_iter(match=f"{self.prefix}*"):
            await admin.delete(key)
        await admin.aclose()


@pytest.fixture
async def redis_limiters(redis_url: str) -> AsyncIterator[RedisLimiters]:
    limiters = RedisLimiters(redis_url)
    yield limiters
    await limiters.aclose()


@pytest.fixture(params=["memory", "redis"])
async def limiter(request: pytest.FixtureRequest) -> AsyncIterator[RateLimiter]:
    if request.param == "memory":
        made = LimitsRateLimiter.from_url("memory://", RULES)
        yield made
        await made.close()
    else:
        limiters = RedisLimiters(request.getfixturevalue("redis_url"))
        yield limiters.make()
        await limiters.aclose()


async def one(limiter: RateLimiter, rule: str, key: str, cost: int = 1) -> RateLimitDecision:
    decision = await limiter.hit(rule, key, cost)
    assert decision is not None
    return decision


async def hits(limiter: RateLimiter, rule: str, key: str, n: int) -> list[RateLimitDecision]:
    decisions = []
    for _ in range(n):
        decision = await limiter.hit(rule, key)
        assert decision is not None
        decisions.append(decision)
    return decisions


async def test_allows_the_limit_then_refuses(limiter: RateLimiter) -> None:
    started = time.time()
    decisions = await hits(limiter, "burst", "198.51.100.1", 4)
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.remaining for d in decisions] == [2, 1, 0, 0]
    assert {d.limit for d in decisions} == {3}
    assert [d.retry_after for d in decisions[:3]] == [0, 0, 0]
    refused = decisions[3]
    # the oldest hit frees up an hour after it was made
    assert math.floor(started) + 3600 <= refused.reset_at <= math.ceil(time.time()) + 3600
    assert 3590 <= refused.retry_after <= 3601


async def test_a_refused_hit_counts_nothing(limiter: RateLimiter) -> None:
    await hits(limiter, "fast", "k", 2)
    for _ in range(5):
        refused = await one(limiter, "fast", "k")
        assert (refused.allowed, refused.retry_after) == (False, 1)
    # as soon as the first hit leaves the one-second window, one more is allowed
    with anyio.fail_after(5):
        while not (decision := await one(limiter, "fast", "k")).allowed:
            await anyio.sleep(0.05)
    assert decision.remaining in (0, 1)


async def test_keys_and_rules_are_counted_apart(limiter: RateLimiter) -> None:
    await hits(limiter, "burst", "a", 3)
    assert not (await hits(limiter, "burst", "a", 1))[0].allowed
    assert (await hits(limiter, "burst", "b", 1))[0].remaining == 2
    assert (await hits(limiter, "other", "a", 1))[0].remaining == 2


async def test_a_cost_counts_several_hits(limiter: RateLimiter) -> None:
    first = await one(limiter, "burst", "k", cost=2)
    assert (first.allowed, first.remaining) == (True, 1)
    assert not (await one(limiter, "burst", "k", cost=2)).allowed
    last = await one(limiter, "burst", "k")
    assert (last.allowed, last.remaining) == (True, 0)
    assert not (await one(limiter, "burst", "other-key", cost=4)).allowed  # over the limit


async def test_a_rule_without_limit_answers_none(limiter: RateLimiter) -> None:
    for _ in range(10):
        assert await limiter.hit("off", "k") is None


async def test_an_unknown_rule_is_a_programming_error(limiter: RateLimiter) -> None:
    with pytest.raises(KeyError):
        await limiter.hit("no-such-rule", "k")


async def test_check_passes_when_the_backend_answers(limiter: RateLimiter) -> None:
    await limiter.check()


# --- Redis only ---------------------------------------------------------------------------


async def test_servers_share_the_counts(redis_limiters: RedisLimiters) -> None:
    server_a, server_b = redis_limiters.make(), redis_limiters.make()
    assert (await hits(server_a, "burst", "k", 2))[-1].remaining == 1
    last = await one(server_b, "burst", "k")
    assert (last.allowed, last.remaining) == (True, 0)
    assert not (await one(server_a, "burst", "k")).allowed


async def test_keys_live_under_the_prefix(redis_limiters: RedisLimiters) -> None:
    prefix = redis_limiters.prefix
    await redis_limiters.make().hit("burst", "203.0.113.5")
    admin = Redis.from_url(redis_limiters.url)
    keys = [key.decode() async for key in admin.scan_iter(match=f"{prefix}*")]
    await admin.aclose()
    assert len(keys) == 1
    assert keys[0].startswith(f"{prefix}rl:")
    assert keys[0].endswith("/burst/203.0.113.5/3/1/hour")  # limits' key layout
