"""``direct_upload_origin``: where browsers send direct uploads, for the pages' CSP."""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from pixstash.storage.local import LocalBlobStore
from pixstash.storage.memory import MemoryBlobStore
from pixstash.storage.s3 import S3BlobStore
from tests.s3server import REGION, S3Endpoint


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


async def presigned_origin(store: S3BlobStore) -> str:
    post = await store.presigned_post(
        "incoming/abc", content_type="image/png", max_bytes=10, expires_seconds=60
    )
    assert post is not None
    return origin(post.url)


def test_it_is_the_origin_presigned_posts_go_to(s3_endpoint: S3Endpoint) -> None:
    store = S3BlobStore(s3_endpoint.new_bucket(), "pix", endpoint=s3_endpoint.url, region=REGION)
    try:
        assert store.direct_upload_origin() == s3_endpoint.url  # path-style: the endpoint
        assert asyncio.run(presigned_origin(store)) == store.direct_upload_origin()
    finally:
        asyncio.run(store.close())


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("s3://my-bucket/p?region=us-east-1", "https://my-bucket.s3.amazonaws.com"),
        ("s3://my-bucket?region=eu-west-1", "https://my-bucket.s3.eu-west-1.amazonaws.com"),
        ("s3://pics/p?endpoint=https://minio.internal:9000", "https://minio.internal:9000"),
        (
            "s3://pics?endpoint=https://minio.internal&addressing=virtual",
            "https://pics.minio.internal",
        ),
    ],
)
def test_it_follows_the_addressing_style(url: str, expected: str) -> None:
    """Signing and this answer are local: no request leaves the machine."""
    store = S3BlobStore.from_url(url)
    try:
        assert store.direct_upload_origin() == expected
        assert asyncio.run(presigned_origin(store)) == expected
    finally:
        asyncio.run(store.close())


def test_stores_the_app_receives_for_have_none(tmp_path: Path) -> None:
    assert LocalBlobStore(tmp_path).direct_upload_origin() is None
    assert MemoryBlobStore().direct_upload_origin() is None
