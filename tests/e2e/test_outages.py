"""End to end: one backend at a time becomes unreachable under a running ``pixstash serve``
(PostgreSQL, S3, RabbitMQ and Redis, each behind a fault proxy), then comes back.

During the outage requests answer what they can, and the rest 503 `backend-unavailable`
with Retry-After, never 500 and never a hang; ``/readyz`` names the backend that is down.
Once it is back the same process is ready again, without a restart, and nothing was
lost or left half-done: every accepted upload is processed and has its blobs, and refused
ones left no row (and no blob, but for the orphan originals `pixstash gc` exists for).
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import redis
from sqlalchemy import create_engine, select
from sqlalchemy.engine import make_url

from pixstash.db.models import BlobRow, ImageRow, VariantRow
from pixstash.domain.formats import SourceFormat
from pixstash.domain.model import original_key
from tests import imagegen, rabbitmq
from tests.e2e.conftest import Server, wait_until
from tests.faultproxy import FaultProxy
from tests.pgserver import PostgresServer
from tests.redisserver import REDIS_URL, require_redis
from tests.s3server import FAKE_AWS_ENV, S3Endpoint, moto_s3

pytestmark = pytest.mark.e2e

BACKENDS = ("database", "storage", "queue", "cache")
# What each outage answers (docs/DEPLOY.md, "When a backend is down"): an upload, an
# image's info, and an on-demand variant never made before. Stored media: served when
# neither the database nor storage is down, else served from memory or 503.
EXPECTED = {
    "database": (503, 503, 503),
    "storage": (503, 200, 503),
    "queue": (201, 200, 200),  # the outbox keeps the job
    "cache": (201, 200, 503),  # jobs take no locks; a new variant needs one
}
# Far below "hanging": a request that needs a dead backend must give up well before this.
REQUEST_TIMEOUT = 10.0
RETRY_DELAY_MS = 1000  # the amqp:// retry queue of these tests (retry_delays=1)


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Endpoint]:
    with moto_s3() as endpoint:
        yield endpoint


@dataclass
class Stack:
    """A server whose four backends are each reached through a fault proxy."""

    server: Server
    database_url: str  # direct, for looking from outside
    s3: S3Endpoint
    bucket: str
    proxies: dict[str, FaultProxy]
    accepted: dict[str, bytes] = field(default_factory=dict)  # image id -> uploaded bytes
    refused: list[bytes] = field(default_factory=list)


def via(url: str, proxy: FaultProxy) -> str:
    """``url`` with its host and port replaced by the proxy's."""
    parts = urlsplit(url)
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = f"{userinfo}@127.0.0.1:{proxy.port}" if userinfo else f"127.0.0.1:{proxy.port}"
    return parts._replace(netloc=netloc).geturl()


@pytest.fixture
def stack(tmp_path: Path, postgres: PostgresServer, s3: S3Endpoint) -> Iterator[Stack]:
    rabbitmq.require_broker()
    require_redis()
    database_url = postgres.create("outage")
    bucket = s3.new_bucket()
    prefix = f"pixstash-test-{secrets.token_hex(4)}"
    targets = {
        "database": make_url(database_url).port or 5432,
        "storage": urlsplit(s3.url).port,
        "queue": urlsplit(rabbitmq.BROKER_URL).port or 5672,
        "cache": urlsplit(REDIS_URL).port or 6379,
    }
    proxies = {name: FaultProxy(port) for name, port in targets.items() if port}
    assert len(proxies) == len(BACKENDS)
    amqp = via(rabbitmq.BROKER_URL, proxies["queue"])
    server = Server(
        tmp_path,
        env_overrides={
            **FAKE_AWS_ENV,
            # libpq's shortest connect timeout (the default is 5 s): keeps a stall short
            "PIXSTASH_DATABASE_URL": via(database_url, proxies["database"]) + "?connect_timeout=2",
            "PIXSTASH_STORAGE_URL": f"s3://{bucket}?endpoint=http://127.0.0.1:"
            f"{proxies['storage'].port}&region=us-east-1",
            "PIXSTASH_QUEUE_URL": f"{amqp}?prefix={prefix}&retry_delays=1&reconnect_interval=0.5",
            "PIXSTASH_CACHE_URL": f"{via(REDIS_URL, proxies['cache'])}?prefix={prefix}:sf:",
            "PIXSTASH_JOB_WORKERS": "2",
        },
    )
    try:
        server.start()
        yield Stack(server, database_url, s3, bucket, proxies)
    finally:
        server.kill(signal.SIGTERM)
        for proxy in proxies.values():
            proxy.close()
        names = [f"{prefix}.jobs", f"{prefix}.jobs.retry.{RETRY_DELAY_MS}", f"{prefix}.jobs.dead"]
        asyncio.run(rabbitmq.delete_queues(names))


def upload(client: httpx.Client, stack: Stack, seed: int) -> httpx.Response:
    """POST one new image; an accepted one is remembered with its bytes."""
    data = imagegen.jpeg_bytes(480, 320, seed=seed)
    response = client.post("/api/v1/images", files={"image": ("p.jpg", data, "image/jpeg")})
    assert_no_failure(response)
    if response.status_code == 201:
        stack.accepted[response.json()["id"]] = data
    else:
        stack.refused.append(data)
    return response


def assert_no_failure(response: httpx.Response) -> None:
    """2xx, or the backend's 503 with its code and a Retry-After (never a 500)."""
    if response.status_code < 300:
        return
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "backend-unavailable"
    assert int(response.headers["retry-after"]) > 0


def assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert_no_failure(response)


def readyz(client: httpx.Client) -> tuple[int, list[str]]:
    response = client.get("/readyz")
    body = response.json()
    if response.status_code == 503:
        assert int(response.headers["retry-after"]) > 0
    return response.status_code, body.get("down", [])


def all_ready(client: httpx.Client, ids: list[str]) -> bool:
    statuses = [client.get(f"/api/v1/images/{i}").json()["status"] for i in ids]
    assert "failed" not in statuses
    return all(s == "ready" for s in statuses)


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_outage_answers_503_and_heals_without_a_restart(stack: Stack, backend: str) -> None:
    proxy = stack.proxies[backend]
    with httpx.Client(base_url=stack.server.url, timeout=REQUEST_TIMEOUT) as client:
        assert upload(client, stack, seed=0).status_code == 201
        (before,) = stack.accepted
        wait_until(lambda: all_ready(client, [before]), 30, "the first image to be processed")
        assert client.get(f"/{before}s.jpg").status_code == 200  # on demand, now stored
        assert readyz(client) == (200, [])

        proxy.down()
        try:
            upload_status, info_status, fresh_status = EXPECTED[backend]
            statuses = [upload(client, stack, seed).status_code for seed in (1, 2)]
            assert statuses == [upload_status] * 2
            assert readyz(client) == (503, [backend])

            info = client.get(f"/api/v1/images/{before}")
            assert_no_failure(info)
            assert info.status_code == info_status
            for suffix in ("", "t", "s"):  # eager variants, and an on-demand one made before
                media = client.get(f"/{before}{suffix}.jpg")
                assert_no_failure(media)
                assert media.status_code == 200 or backend in ("database", "storage")
            fresh = client.get(f"/{before}b.jpg")
            assert_no_failure(fresh)
            assert fresh.status_code == fresh_status
            during = [i for i in stack.accepted if i != before]
            if backend == "queue":  # in the outbox until the broker is back
                assert not any(all_ready(client, [i]) for i in during)
            if backend == "cache":
                wait_until(lambda: all_ready(client, during), 30, "processing without locks")
        finally:
            proxy.up()

        wait_until(lambda: readyz(client) == (200, []), 30, f"/readyz after the {backend} outage")
        assert upload(client, stack, seed=3).status_code == 201
        ids = list(stack.accepted)
        wait_until(lambda: all_ready(client, ids), 30, "every accepted image to be processed")
        assert client.get(f"/{before}b.jpg").status_code == 200
    assert_every_accepted_upload_is_whole(stack, orphans_allowed=backend == "database")


def test_a_hung_database_answers_503_in_time_and_heals(stack: Stack) -> None:
    """A PostgreSQL that accepts connections and never answers: the connect timeout
    turns it into 503s, and requests cancelled while connecting break nothing."""
    proxy = stack.proxies["database"]
    with httpx.Client(base_url=stack.server.url, timeout=REQUEST_TIMEOUT) as client:
        assert upload(client, stack, seed=0).status_code == 201
        (before,) = stack.accepted
        proxy.stall()
        try:
            assert_unavailable(upload(client, stack, seed=1))
            assert readyz(client) == (503, ["database"])
            assert_unavailable(client.get(f"/api/v1/images/{before}"))
        finally:
            proxy.up()
        wait_until(lambda: readyz(client) == (200, []), 30, "/readyz after the stall")
        assert upload(client, stack, seed=2).status_code == 201
        ids = list(stack.accepted)
        wait_until(lambda: all_ready(client, ids), 30, "every accepted image to be processed")
    assert_every_accepted_upload_is_whole(stack, orphans_allowed=True)


def assert_every_accepted_upload_is_whole(stack: Stack, *, orphans_allowed: bool) -> None:
    """Rows for exactly the accepted uploads, each with its original and variants stored;
    no other object, except (``orphans_allowed``) originals of refused uploads whose row
    could not be written: blob first, row second leaves orphans, never a dangling row."""
    engine = create_engine(stack.database_url)
    try:
        with engine.connect() as conn:
            images = dict(conn.execute(select(ImageRow.id, ImageRow.blob_hash)).all())
            blobs = dict(conn.execute(select(BlobRow.hash, BlobRow.format)).all())
            variant_keys = set(conn.scalars(select(VariantRow.key)))
    finally:
        engine.dispose()
    assert set(images) == set(stack.accepted)
    for image_id, data in stack.accepted.items():
        assert images[image_id] == hashlib.sha256(data).hexdigest()
    originals = {original_key(h, SourceFormat(fmt)) for h, fmt in blobs.items()}
    listed = stack.s3.client.list_objects_v2(Bucket=stack.bucket)
    stored = {item["Key"] for item in listed.get("Contents", [])}
    assert originals | variant_keys <= stored
    refused = {
        original_key(hashlib.sha256(d).hexdigest(), SourceFormat.JPEG) for d in stack.refused
    }
    extra = stored - originals - variant_keys
    assert extra <= (refused if orphans_allowed else set()), extra


def test_the_proxy_cuts_and_restores_a_connection_on_the_same_port() -> None:
    require_redis()
    proxy = FaultProxy(urlsplit(REDIS_URL).port or 6379)
    client = redis.Redis(port=proxy.port, socket_timeout=2, retry_on_error=[], retry=None)
    try:
        assert client.ping()
        port = proxy.port
        proxy.down()
        started = time.monotonic()
        with pytest.raises(redis.ConnectionError):
            client.ping()
        assert time.monotonic() - started < 1  # reset at once, not a timeout
        proxy.up()
        assert proxy.port == port
        assert client.ping()
    finally:
        client.close()
        proxy.close()
