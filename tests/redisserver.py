"""The Redis server of this machine for tests (``PIXSTASH_TEST_REDIS_URL``, default
127.0.0.1:6379 database 15); tests isolate their keys with a random prefix.

Without Redis the tests skip loudly; under CI=true they fail instead.
"""

from __future__ import annotations

import os

import pytest
import redis

REDIS_URL = os.environ.get("PIXSTASH_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def require_redis() -> str:
    """The test Redis URL, or a loud skip (a failure under CI=true) when it is not there."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        reason = f"Redis at {REDIS_URL} is unreachable ({exc}); set PIXSTASH_TEST_REDIS_URL"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true needs Redis: {reason}", pytrace=False)
        pytest.skip(f"!!! REDIS TESTS SKIPPED: {reason} !!!")
    finally:
        client.close()
    return REDIS_URL
