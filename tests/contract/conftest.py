"""Backends the contract suites need beyond this machine's services: S3 (moto)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.s3server import S3Endpoint, moto_s3


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[S3Endpoint]:
    with moto_s3() as endpoint:
        yield endpoint
