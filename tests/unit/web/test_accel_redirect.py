"""X-Accel-Redirect for media on local disk (``PIXSTASH_ACCEL_REDIRECT_PREFIX``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from pixstash.config import Settings, load_settings
from pixstash.errors import ConfigurationError
from tests import imagegen
from tests.helpers import container_of, drain_jobs

pytestmark = [pytest.mark.anyio, pytest.mark.db_backends("sqlite")]
PREFIX = "/_blobs/"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # no in-memory media cache: every media answer comes from a file
    return settings.model_copy(update={"accel_redirect_prefix": PREFIX, "media_cache_bytes": 0})


async def _media_url(client: httpx.AsyncClient, app: FastAPI, suffix: str = "m") -> str:
    created = (await client.post("/api/v1/images", content=imagegen.jpeg_bytes(800, 400))).json()
    await drain_jobs(container_of(app))
    return f"/{created['id']}{suffix}.jpg"


async def test_local_media_answer_with_headers_and_no_body(
    client: httpx.AsyncClient, app: FastAPI, tmp_path: Path
) -> None:
    response = await client.get(await _media_url(client, app))
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-length"] == "0"
    key = response.headers["x-accel-redirect"].removeprefix(PREFIX)
    assert (tmp_path / "blobs" / key).is_file()
    assert key.startswith("medium/")
    assert response.headers["content-type"] == "image/jpeg"
    assert response.headers["etag"].startswith('"')
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-security-policy"].startswith("default-src 'none'")


async def test_head_range_and_revalidation(client: httpx.AsyncClient, app: FastAPI) -> None:
    url = await _media_url(client, app, "t")
    first = await client.get(url)
    head = await client.head(url)
    assert head.status_code == 200
    assert head.headers["x-accel-redirect"] == first.headers["x-accel-redirect"]
    assert head.content == b""
    # nginx answers Range from the file: the app redirects the whole of it
    ranged = await client.get(url, headers={"range": "bytes=0-9"})
    assert ranged.status_code == 200
    assert "content-range" not in ranged.headers
    assert ranged.headers["x-accel-redirect"] == first.headers["x-accel-redirect"]
    # 304 stays the app's: no redirect, nothing for nginx to send
    revalidated = await client.get(url, headers={"if-none-match": first.headers["etag"]})
    assert revalidated.status_code == 304
    assert "x-accel-redirect" not in revalidated.headers
    assert revalidated.headers["etag"] == first.headers["etag"]


async def test_missing_media_are_404_not_a_redirect(client: httpx.AsyncClient) -> None:
    response = await client.get("/zzzzzzzm.jpg")
    assert response.status_code == 404
    assert "x-accel-redirect" not in response.headers


@pytest.fixture
async def memory_app(settings: Settings) -> AsyncIterator[FastAPI]:
    from pixstash.web.app import create_app

    application = create_app(settings.model_copy(update={"storage_url": "memory://"}))
    async with application.router.lifespan_context(application):
        yield application


async def test_media_not_on_local_disk_are_sent_as_bytes(memory_app: FastAPI) -> None:
    transport = httpx.ASGITransport(app=memory_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.get(await _media_url(client, memory_app))
    assert response.status_code == 200
    assert "x-accel-redirect" not in response.headers
    assert response.content.startswith(b"\xff\xd8")


@pytest.mark.parametrize("prefix", ["_blobs/", "/_blobs", "/", "/a b/", "/../x/", "/x?y/"])
def test_invalid_prefix_is_refused_at_start(prefix: str) -> None:
    with pytest.raises(ConfigurationError, match="ACCEL_REDIRECT_PREFIX"):
        load_settings(accel_redirect_prefix=prefix)


def test_default_is_off_and_a_valid_prefix_is_kept() -> None:
    assert load_settings().accel_redirect_prefix == ""
    assert load_settings(accel_redirect_prefix="/_blobs/").accel_redirect_prefix == "/_blobs/"
