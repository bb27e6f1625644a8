"""The limits-backed RateLimiter: rules, and what it does while Redis is down."""

from __future__ import annotations

import logging
import socket
from collections.abc import AsyncIterator, Iterator

import pytest

from pixstash.errors import BackendUnavailable, CacheUnavailable, ConfigurationError
from pixstash.security.limiter import LimitsRateLimiter, OnOutage, parse_rule


@pytest.mark.parametrize(
    ("text", "amount", "seconds"),
    [
        ("50/hour", 50, 3600),
        ("10 per minute", 10, 60),
        (" 2/second ", 2, 1),
        ("500/day", 500, 86400),
        ("3/2 hours", 3, 7200),
    ],
)
def test_rules_use_limits_syntax(text: str, amount: int, seconds: int) -> None:
    item = parse_rule(text)
    assert item is not None
    assert (item.amount, item.get_expiry()) == (amount, seconds)


def test_an_empty_rule_is_no_limit() -> None:
    assert parse_rule("") is None
    assert parse_rule("  ") is None


@pytest.mark.parametrize("text", ["fast", "50", "50/fortnight", "0/hour", "1/second;5/hour"])
def test_bad_rules_are_refused_at_start_up(text: str) -> None:
    with pytest.raises(ConfigurationError, match="Invalid rate limit"):
        parse_rule(text)
    with pytest.raises(ConfigurationError):
        LimitsRateLimiter.from_url("memory://", {"r": text})


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port on 127.0.0.1 that refuses connections: bound, never listening."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


@pytest.fixture
async def down(
    closed_port: int, request: pytest.FixtureRequest
) -> AsyncIterator[LimitsRateLimiter]:
    on_outage: OnOutage = request.param
    limiter = LimitsRateLimiter.from_url(
        f"redis://127.0.0.1:{closed_port}/0?prefix=x:&lease_seconds=5",
        {"r": "5/hour", "off": ""},
        on_outage=on_outage,
    )
    yield limiter
    await limiter.close()


@pytest.mark.anyio
@pytest.mark.parametrize("down", ["refuse"], indirect=True)
async def test_refuse_raises_backend_unavailable_while_redis_is_down(
    down: LimitsRateLimiter,
) -> None:
    with pytest.raises(CacheUnavailable, match=r"Redis at 127\.0\.0\.1:\d+/0") as caught:
        await down.hit("r", "k")
    assert isinstance(caught.value, BackendUnavailable)  # 503 with Retry-After
    assert await down.hit("off", "k") is None  # a rule without limit needs no Redis


@pytest.mark.anyio
@pytest.mark.parametrize("down", ["allow"], indirect=True)
async def test_allow_lets_requests_through_and_warns_once(
    down: LimitsRateLimiter, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="pixstash.security.limiter"):
        assert await down.hit("r", "k") is None
        assert await down.hit("r", "k") is None
    warnings = [r for r in caplog.records if "not enforced" in r.getMessage()]
    assert len(warnings) == 1  # not one per request during an outage


@pytest.mark.anyio
@pytest.mark.parametrize("down", ["allow"], indirect=True)
async def test_check_reports_redis_down(down: LimitsRateLimiter) -> None:
    with pytest.raises(CacheUnavailable):
        await down.check()


def test_the_password_is_never_in_messages() -> None:
    limiter = LimitsRateLimiter.from_url("redis://:hunter2@127.0.0.1:1/3", {})
    assert "hunter2" not in limiter._where
    assert limiter._where == "127.0.0.1:1/3"
