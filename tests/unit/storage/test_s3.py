"""What the S3 store adds to the BlobStore contract (tests/contract): URL options, multipart,
Content-Type, presigned GETs, sweeping multipart leftovers, and outages as our errors."""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from botocore.stub import Stubber

from pixstash.errors import BlobMissing, ConfigurationError, StorageUnavailable
from pixstash.storage import base as storage_base
from pixstash.storage.s3 import MIB, S3BlobStore, content_type
from pixstash.wiring import backend_class
from tests.s3server import REGION, S3Endpoint

pytestmark = pytest.mark.anyio


@pytest.fixture
def bucket(s3_endpoint: S3Endpoint) -> str:
    return s3_endpoint.new_bucket()


@pytest.fixture
async def store(s3_endpoint: S3Endpoint, bucket: str) -> AsyncIterator[S3BlobStore]:
    backend = S3BlobStore(
        bucket, "media", endpoint=s3_endpoint.url, region=REGION, multipart_threshold=5 * MIB
    )
    yield backend
    await backend.close()


def head(s3_endpoint: S3Endpoint, bucket: str, key: str) -> dict[str, Any]:
    result: dict[str, Any] = s3_endpoint.client.head_object(Bucket=bucket, Key=key)
    return result


# --- configuration -------------------------------------------------------------------


def test_url_names_bucket_prefix_endpoint_and_region() -> None:
    store = S3BlobStore.from_url(
        "s3://pix-media/a/b/?endpoint=http://127.0.0.1:9000&region=eu-west-3&max_attempts=2"
    )
    assert (store.bucket, store.prefix) == ("pix-media", "a/b/")
    config = store._client.meta.config
    assert store._client.meta.endpoint_url == "http://127.0.0.1:9000"
    assert config.region_name == "eu-west-3"
    assert config.s3["addressing_style"] == "path"  # MinIO, R2, Ceph behind an endpoint
    assert config.retries["total_max_attempts"] == 2


def test_without_endpoint_aws_virtual_hosted_style() -> None:
    store = S3BlobStore.from_url("s3://pix-media?region=eu-west-3")
    assert store.prefix == ""
    assert store._client.meta.config.s3["addressing_style"] == "virtual"
    assert "eu-west-3" in store._client.meta.endpoint_url


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("s3://AKIA:secret@pix-media/", "Credentials never go in the storage URL"),
        ("s3://pix-media/?endpoint=http://x&acl=public", "valid: endpoint, region"),
        ("s3://pix-media/?addressing=dns", "'path' or 'virtual'"),
        ("s3://pix-media/?endpoint=ftp://x", "http(s) URL"),
        ("s3://pix-media/?connect_timeout=soon", "Invalid s3:// option"),
        ("s3:///prefix", "names no bucket"),
    ],
)
def test_bad_urls_are_refused_at_start_up(url: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=re.escape(message)):
        S3BlobStore.from_url(url)


def test_a_broken_aws_configuration_is_refused_at_start_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_PROFILE", "no-such-profile")
    with pytest.raises(ConfigurationError, match="ProfileNotFound"):
        S3BlobStore.from_url("s3://pix-media/?endpoint=http://127.0.0.1:9000")


def test_scheme_table_picks_s3_and_still_lists_the_valid_schemes() -> None:
    url = "s3://pix-media/p?endpoint=http://127.0.0.1:9000"
    assert backend_class("storage", url, storage_base.SCHEMES) is S3BlobStore
    with pytest.raises(ConfigurationError, match=r"valid: file://, memory://, s3://"):
        backend_class("storage", "gs://pix-media", storage_base.SCHEMES)


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("full/ab/abc.jpg", "image/jpeg"),
        ("thumb/ab/abc.WEBP", "image/webp"),
        ("large/ab/abc.avif", "image/avif"),
        ("full/ab/abc.mp4", "video/mp4"),
        ("original/ab/abc.tiff", "image/tiff"),
        ("original/ab/abc.bmp", "image/bmp"),
        ("incoming/upload", "application/octet-stream"),
        ("dir.d/upload", "application/octet-stream"),
    ],
)
def test_content_type_follows_the_extension(key: str, expected: str) -> None:
    assert content_type(key) == expected


# --- against a real endpoint (moto) --------------------------------------------------


async def test_objects_live_under_the_prefix_with_their_content_type(
    store: S3BlobStore, s3_endpoint: S3Endpoint, bucket: str
) -> None:
    await store.put_bytes("thumb/ab/abc.webp", b"RIFF....WEBP")
    meta = head(s3_endpoint, bucket, "media/thumb/ab/abc.webp")
    assert meta["ContentType"] == "image/webp"
    assert store.local_path("thumb/ab/abc.webp") is None


async def test_small_objects_go_in_one_put(
    store: S3BlobStore, s3_endpoint: S3Endpoint, bucket: str, tmp_path: Path
) -> None:
    source = tmp_path / "small.png"
    source.write_bytes(b"p" * (5 * MIB - 1))
    await store.put_file("original/ab/small.png", source)
    meta = head(s3_endpoint, bucket, "media/original/ab/small.png")
    assert "-" not in meta["ETag"]  # a multipart ETag ends in -<number of parts>
    assert meta["ContentType"] == "image/png"


async def test_large_files_go_in_parts(
    store: S3BlobStore, s3_endpoint: S3Endpoint, bucket: str, tmp_path: Path
) -> None:
    payload = bytes(range(256)) * (11 * MIB // 256)  # 11 MiB: parts of 5 + 5 + 1
    source = tmp_path / "big.jpg"
    source.write_bytes(payload)
    await store.put_file("original/ab/big.jpg", source)
    meta = head(s3_endpoint, bucket, "media/original/ab/big.jpg")
    assert meta["ETag"].strip('"').endswith("-3")
    assert meta["ContentType"] == "image/jpeg"
    assert meta["ContentLength"] == len(payload)
    assert await store.get_bytes("original/ab/big.jpg") == payload
    dest = tmp_path / "back.jpg"
    await store.download("original/ab/big.jpg", dest)
    assert dest.read_bytes() == payload
    assert s3_endpoint.client.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


async def test_large_bytes_go_in_parts(
    store: S3BlobStore, s3_endpoint: S3Endpoint, bucket: str
) -> None:
    await store.put_bytes("full/ab/big.png", b"z" * (6 * MIB))
    meta = head(s3_endpoint, bucket, "media/full/ab/big.png")
    assert meta["ETag"].strip('"').endswith("-2")
    assert meta["ContentType"] == "image/png"


async def test_missing_objects_raise_blob_missing(store: S3BlobStore, tmp_path: Path) -> None:
    with pytest.raises(BlobMissing, match=re.escape("original/no/nope.png")):
        await store.get_bytes("original/no/nope.png")
    with pytest.raises(BlobMissing):
        await store.download("original/no/nope.png", tmp_path / "dest.png")
    assert not (tmp_path / "dest.png").exists()
    assert await store.stat("original/no/nope.png") is None


async def test_presigned_get_serves_the_object_and_is_signed_to_expire(
    store: S3BlobStore, s3_endpoint: S3Endpoint, bucket: str
) -> None:
    await store.put_bytes("original/ab/private.png", b"\x89PNG private")
    before = datetime.now(UTC).replace(microsecond=0)
    url = await store.presigned_get("original/ab/private.png", 300)

    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == s3_endpoint.url
    assert parts.path == f"/{bucket}/media/original/ab/private.png"  # path-style
    query = {name: values[0] for name, values in parse_qs(parts.query).items()}
    # moto checks neither signature nor expiry: check what a real S3 would enforce
    assert query["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
    assert query["X-Amz-Expires"] == "300"
    assert re.fullmatch(r"[0-9a-f]{64}", query["X-Amz-Signature"])
    assert query["X-Amz-Credential"].endswith(f"/{REGION}/s3/aws4_request")
    signed_at = datetime.strptime(query["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    assert before <= signed_at <= datetime.now(UTC)
    expires_at = signed_at + timedelta(seconds=int(query["X-Amz-Expires"]))
    assert expires_at - datetime.now(UTC) <= timedelta(seconds=300)

    async with httpx.AsyncClient() as client:
        response = await client.get(url)
    assert response.status_code == 200
    assert response.content == b"\x89PNG private"
    assert response.headers["content-type"] == "image/png"


@pytest.mark.parametrize("seconds", [0, 7 * 24 * 3600 + 1])
async def test_presigned_get_refuses_lifetimes_s3_would_reject(
    store: S3BlobStore, seconds: int
) -> None:
    with pytest.raises(ValueError, match="expires_seconds"):
        await store.presigned_get("original/ab/x.png", seconds)


async def test_sweep_aborts_stale_multipart_uploads_under_the_prefix_only(
    store: S3BlobStore, s3_endpoint: S3Endpoint, bucket: str
) -> None:
    client = s3_endpoint.client
    client.create_multipart_upload(Bucket=bucket, Key="media/original/ab/cut.jpg")
    client.create_multipart_upload(Bucket=bucket, Key="other-app/x.jpg")
    # moto dates every upload 2010-11-10, so both look stale: only the prefix decides
    assert await store.sweep_incomplete(3600) == 1
    left = [u["Key"] for u in client.list_multipart_uploads(Bucket=bucket)["Uploads"]]
    assert left == ["other-app/x.jpg"]


async def test_sweep_keeps_uploads_in_their_grace_period(store: S3BlobStore) -> None:
    now = datetime.now(UTC)
    uploads = [
        {"Key": "media/original/fresh.jpg", "UploadId": "fresh", "Initiated": now},
        {"Key": "media/original/old.jpg", "UploadId": "old", "Initiated": now - timedelta(1)},
        {"Key": "media/original/gone.jpg", "UploadId": "gone", "Initiated": now - timedelta(1)},
    ]
    with Stubber(store._client) as stub:  # moto cannot date an upload: botocore's stub can
        stub.add_response("list_multipart_uploads", {"Uploads": uploads, "IsTruncated": False})
        stub.add_response(
            "abort_multipart_upload",
            {},
            {"Bucket": store.bucket, "Key": "media/original/old.jpg", "UploadId": "old"},
        )
        stub.add_client_error("abort_multipart_upload", "NoSuchUpload", http_status_code=404)
        assert await store.sweep_incomplete(3600) == 1
        stub.assert_no_pending_responses()


async def test_missing_bucket_makes_storage_unavailable(s3_endpoint: S3Endpoint) -> None:
    store = S3BlobStore("no-such-bucket", endpoint=s3_endpoint.url, region=REGION)
    with pytest.raises(StorageUnavailable, match="no-such-bucket"):
        await store.check()
    with pytest.raises(StorageUnavailable, match="NoSuchBucket"):
        await store.put_bytes("thumb/a.jpg", b"x")
    await store.close()


# --- outages -------------------------------------------------------------------------


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on: connecting is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


class _Failing(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # answers botocore's Expect: 100-continue at once

    def _fail(self) -> None:
        body = b"<Error><Code>SlowDown</Code><Message>Reduce your rate</Message></Error>"
        if self.command == "PUT":
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(503)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_PUT = do_HEAD = do_DELETE = do_POST = _fail

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def failing_endpoint() -> Iterator[str]:
    """An S3 endpoint that answers every request with 503 SlowDown."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Failing)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.mark.parametrize("outage", ["unreachable", "5xx"])
async def test_outages_raise_storage_unavailable(
    outage: str, closed_port: int, failing_endpoint: str, tmp_path: Path
) -> None:
    endpoint = f"http://127.0.0.1:{closed_port}" if outage == "unreachable" else failing_endpoint
    store = S3BlobStore.from_url(
        f"s3://pix-media/p?endpoint={endpoint}&region={REGION}&connect_timeout=1&max_attempts=1"
    )
    source = tmp_path / "up.jpg"
    source.write_bytes(b"jpeg")
    attempts = [
        store.check(),
        store.put_bytes("thumb/a.jpg", b"x"),
        store.put_file("original/a.jpg", source),
        store.get_bytes("thumb/a.jpg"),
        store.download("thumb/a.jpg", tmp_path / "a.jpg"),
        store.stat("thumb/a.jpg"),
        store.delete("thumb/a.jpg"),
        store.sweep_incomplete(0),
    ]
    for attempt in attempts:
        with pytest.raises(StorageUnavailable) as caught:
            await attempt
        assert caught.value.status == 503
        assert caught.value.code == "backend-unavailable"
    with pytest.raises(StorageUnavailable):
        _ = [o async for o in store.iter_objects()]
    await store.close()
