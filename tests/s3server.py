"""A real S3 endpoint on loopback for tests: moto's server, in a thread of this process.

moto accepts any credentials and any signature; the fixture points the standard AWS
chain at throwaway values and away from the developer's ~/.aws, so tests never reach AWS.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": "/dev/null",
    "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    "AWS_EC2_METADATA_DISABLED": "true",
}
REGION = "us-east-1"


@dataclass(frozen=True)
class S3Endpoint:
    url: str  # http://127.0.0.1:<port>
    client: Any  # a boto3 S3 client for the test's own checks

    def new_bucket(self) -> str:
        name = f"test-{uuid.uuid4().hex[:16]}"
        self.client.create_bucket(Bucket=name)
        return name

    def storage_url(self, bucket: str, prefix: str = "") -> str:
        path = f"/{prefix}" if prefix else ""
        return f"s3://{bucket}{path}?endpoint={self.url}&region={REGION}"


def use_fake_aws_credentials(patch: pytest.MonkeyPatch) -> None:
    """Fake keys, no profile, no ~/.aws and no instance metadata: nothing leaves loopback."""
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        patch.delenv(name, raising=False)
    for name, value in FAKE_AWS_ENV.items():
        patch.setenv(name, value)


@contextmanager
def moto_s3() -> Iterator[S3Endpoint]:
    """Start moto on a free loopback port (port 0: the OS picks) with fake credentials."""
    with pytest.MonkeyPatch.context() as patch:
        use_fake_aws_credentials(patch)
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        try:
            host, port = server.get_host_and_port()
            url = f"http://{host}:{port}"
            client = boto3.session.Session().client("s3", endpoint_url=url, region_name=REGION)
            yield S3Endpoint(url, client)
            client.close()
        finally:
            server.stop()
