"""Direct uploads with S3 storage: a presigned POST straight to the bucket (moto on
loopback), then complete. moto accepts any signature and does not check the policy, so
the policy's conditions are decoded and checked here."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from pixstash.config import Settings
from tests import imagegen
from tests.helpers import container_of, drain_jobs
from tests.s3server import S3Endpoint, moto_s3

pytestmark = pytest.mark.anyio
PREFIX = "media"


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[S3Endpoint]:
    with moto_s3() as endpoint:
        yield endpoint


@pytest.fixture
def bucket(s3_endpoint: S3Endpoint) -> str:
    return s3_endpoint.new_bucket()


@pytest.fixture
def settings(
    tmp_path: Path, database_url: str, s3_endpoint: S3Endpoint, bucket: str
) -> Iterator[Settings]:
    with pytest.MonkeyPatch.context() as patch:
        from tests.s3server import use_fake_aws_credentials

        use_fake_aws_credentials(patch)
        yield Settings(
            environment="test",
            database_url=database_url,
            storage_url=s3_endpoint.storage_url(bucket, PREFIX),
            tmp_dir=str(tmp_path / "tmp"),
            job_workers=0,
        )


def keys(s3_endpoint: S3Endpoint, bucket: str) -> list[str]:
    listed = s3_endpoint.client.list_objects_v2(Bucket=bucket)
    return sorted(item["Key"] for item in listed.get("Contents", []))


async def start(client: httpx.AsyncClient, data: bytes, content_type: str) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/uploads",
        json={"filename": "photo", "content_type": content_type, "size": len(data)},
    )
    assert response.status_code == 201, response.text
    ticket: dict[str, Any] = response.json()
    return ticket


async def post_to_bucket(ticket: dict[str, Any], data: bytes) -> httpx.Response:
    async with httpx.AsyncClient() as outside:  # a real HTTP request, not through the app
        return await outside.post(
            ticket["url"], data=ticket["fields"], files={"file": ("photo", data)}
        )


async def test_presigned_post_to_the_bucket_then_complete(
    client: httpx.AsyncClient, app: FastAPI, s3_endpoint: S3Endpoint, bucket: str
) -> None:
    data = imagegen.jpeg_bytes(500, 300)
    ticket = await start(client, data, "image/jpeg")
    assert ticket["method"] == "POST"
    assert ticket["url"] == f"{s3_endpoint.url}/{bucket}"
    key = f"{PREFIX}/incoming/{ticket['upload_id']}"
    assert ticket["fields"]["key"] == key
    assert ticket["fields"]["Content-Type"] == "image/jpeg"

    sent = await post_to_bucket(ticket, data)
    assert sent.status_code in (200, 201, 204), sent.text
    head = s3_endpoint.client.head_object(Bucket=bucket, Key=key)
    assert head["ContentType"] == "image/jpeg"

    done = await client.post(f"/api/v1/uploads/{ticket['upload_id']}/complete")
    assert done.status_code == 201, done.text
    image = done.json()
    assert (image["width"], image["height"], image["size"]) == (500, 300, len(data))
    stored = keys(s3_endpoint, bucket)
    assert key not in stored
    assert [k for k in stored if k.startswith(f"{PREFIX}/original/")] != []
    again = await client.post(f"/api/v1/uploads/{ticket['upload_id']}/complete")
    assert again.json() == image

    assert await drain_jobs(container_of(app)) == 1
    assert (await client.get(f"/api/v1/images/{image['id']}")).json()["status"] == "ready"


def csp_of(page: httpx.Response) -> dict[str, list[str]]:
    header = page.headers["content-security-policy"]
    return {name: sources for name, *sources in (d.split() for d in header.split(";"))}


async def test_pages_let_the_browser_post_to_the_bucket(
    client: httpx.AsyncClient, s3_endpoint: S3Endpoint, bucket: str
) -> None:
    """The upload page sends files to the ticket's url: its origin must be in connect-src."""
    ticket = await start(client, imagegen.jpeg_bytes(50, 40), "image/jpeg")
    page = await client.get("/")
    assert page.status_code == 200
    csp = csp_of(page)
    assert csp["connect-src"] == ["'self'", s3_endpoint.url]
    assert ticket["url"].startswith(s3_endpoint.url + "/")
    assert csp["default-src"] == ["'self'"]  # nothing else opened


async def test_non_image_in_the_bucket_is_refused_and_deleted(
    client: httpx.AsyncClient, s3_endpoint: S3Endpoint, bucket: str
) -> None:
    data = b"%PDF-1.7 not an image, but long enough to sniff" * 4
    ticket = await start(client, data, "image/png")
    assert (await post_to_bucket(ticket, data)).status_code in (200, 201, 204)
    refused = await client.post(f"/api/v1/uploads/{ticket['upload_id']}/complete")
    assert refused.status_code == 415
    assert refused.json()["error"]["code"] == "unsupported-media-type"
    assert keys(s3_endpoint, bucket) == []


async def test_the_post_policy_enforces_key_type_size_and_expiry(
    client: httpx.AsyncClient, bucket: str
) -> None:
    data = imagegen.png_alpha_bytes()
    ticket = await start(client, data, "image/png")
    fields = ticket["fields"]
    policy = json.loads(base64.b64decode(fields["policy"]))
    conditions = policy["conditions"]
    assert {"bucket": bucket} in conditions
    assert {"key": f"{PREFIX}/incoming/{ticket['upload_id']}"} in conditions
    assert {"Content-Type": "image/png"} in conditions  # exact match, not starts-with
    assert ["content-length-range", 1, len(data)] in conditions
    assert fields["x-amz-algorithm"] == "AWS4-HMAC-SHA256"
    assert {"x-amz-algorithm": "AWS4-HMAC-SHA256"} in conditions
    assert fields["x-amz-signature"]
    expiration = datetime.fromisoformat(policy["expiration"].replace("Z", "+00:00"))
    in_15_minutes = datetime.now(UTC) + timedelta(minutes=15)
    assert abs(expiration - in_15_minutes) < timedelta(seconds=30)
    expires_at = datetime.fromisoformat(ticket["expires_at"])
    assert abs(expiration - expires_at) < timedelta(seconds=5)
