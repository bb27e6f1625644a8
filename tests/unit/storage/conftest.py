"""S3 store tests run against a real endpoint: moto on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.s3server import S3Endpoint, moto_s3, use_fake_aws_credentials


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[S3Endpoint]:
    with moto_s3() as endpoint:
        yield endpoint


@pytest.fixture(autouse=True)
def _fake_aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Also for tests that build a client without the moto endpoint."""
    use_fake_aws_credentials(monkeypatch)
