"""Backends of the contract suites: S3 (moto, started here) and this machine's Redis."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.redisserver import require_redis
from tests.s3server import S3Endpoint, moto_s3


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[S3Endpoint]:
    with moto_s3() as endpoint:
        yield endpoint


@pytest.fixture(scope="session")
def redis_url() -> str:
    return require_redis()
