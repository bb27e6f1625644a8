"""Uploading by link through /api/v1/images: JSON, multipart and form ``url``; the fetched
image takes exactly the upload path; every refusal leaves nothing behind and never
connects where it must not (the canary sees nothing)."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from PIL import Image

from pixstash.config import Settings
from pixstash.domain.model import ImageStatus
from pixstash.security.addresses import AddressPolicy
from pixstash.security.fetcher import HttpFetcher
from tests import imagegen
from tests.helpers import container_of, drain_jobs, snapshot
from tests.linkserver import (
    PUBLIC_V4,
    Canary,
    FakeResolver,
    LinkServer,
    Reply,
    RoutedNetwork,
    running,
)

pytestmark = pytest.mark.anyio

PHOTO = imagegen.jpeg_bytes(800, 600, seed=7)


def _jpeg_with_gps() -> bytes:
    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: (48.0, 51.0, 29.0)}  # GPSInfo
    out = io.BytesIO()
    Image.open(io.BytesIO(PHOTO)).save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


@pytest.fixture
async def links(app: FastAPI) -> AsyncIterator[tuple[LinkServer, Canary, RoutedNetwork]]:
    """``images.test`` (a public address) served from loopback; ``evil.test`` is
    loopback itself; the app's fetcher uses them, and the canary catches anything else."""
    canary = Canary()
    server = LinkServer(
        {
            "/photo.jpg": Reply(body=PHOTO, headers={"Content-Type": "image/jpeg"}),
            "/gps.jpg": Reply(body=_jpeg_with_gps()),
            "/page.html": Reply(
                body=b"<!doctype html><img src=photo.jpg>", headers={"Content-Type": "text/html"}
            ),
            "/huge": Reply(body=b"x" * 4096),
            "/empty": Reply(body=b""),
            "/to-metadata": Reply(302, headers={"Location": "http://169.254.169.254/latest/"}),
            **{f"/loop{i}": Reply(302, headers={"Location": f"/loop{i + 1}"}) for i in range(5)},
        }
    )
    async with running(canary, server):
        network = RoutedNetwork({(PUBLIC_V4, 80): server.port}, canary)
        resolver = FakeResolver({"images.test": [PUBLIC_V4], "evil.test": ["127.0.0.1"]})
        container = container_of(app)
        container.url_ingest.fetcher = HttpFetcher(
            AddressPolicy(), resolver=resolver, network=network, total_seconds=5
        )
        yield server, canary, network
        assert canary.connections == 0


async def test_a_link_becomes_a_ready_image_like_an_upload(
    client: httpx.AsyncClient, app: FastAPI, links: Any
) -> None:
    response = await client.post(
        "/api/v1/images",
        json={"url": "http://images.test/photo.jpg", "title": "From a link", "description": "d"},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["type"], body["width"], body["height"]) == ("image/jpeg", 800, 600)
    assert (body["title"], body["description"]) == ("From a link", "d")
    assert body["size"] == len(PHOTO)
    assert body["delete_token"]
    assert response.headers["location"] == body["links"]["page"]

    container = container_of(app)
    assert await drain_jobs(container) == 1
    image = await container.meta.get_image(body["id"])
    assert image is not None
    assert image.status is ImageStatus.READY
    for name in ("full", "thumb", "medium", "large"):
        assert await container.meta.get_variant(image.blob_hash, name, "jpg") is not None, name
    thumb = await client.get(f"/{body['id']}t.jpg")
    assert thumb.status_code == 200
    assert max(Image.open(io.BytesIO(thumb.content)).size) == 160

    # the same bytes uploaded as a file are the same blob (dedup, one path)
    again = (await client.post("/api/v1/images", content=PHOTO)).json()
    assert (await container.meta.get_image(again["id"])).blob_hash == image.blob_hash  # type: ignore[union-attr]


async def test_metadata_of_a_linked_image_is_stripped(
    client: httpx.AsyncClient, app: FastAPI, links: Any
) -> None:
    created = (
        await client.post("/api/v1/images", json={"url": "http://images.test/gps.jpg"})
    ).json()
    await drain_jobs(container_of(app))
    full = await client.get(f"/{created['id']}.jpg")
    assert full.status_code == 200
    assert 0x8825 not in Image.open(io.BytesIO(full.content)).getexif()


@pytest.mark.parametrize(
    "send",
    [
        {"data": {"url": "http://images.test/photo.jpg", "title": "Form"}},
        {
            "data": {"url": "http://images.test/photo.jpg", "title": "Form"},
            "files": {"x": ("", b"")},
        },
    ],
    ids=["form-urlencoded", "multipart"],
)
async def test_a_url_field_works_in_forms(
    client: httpx.AsyncClient, links: Any, send: dict[str, Any]
) -> None:
    response = await client.post("/api/v1/images", **send)
    assert response.status_code == 201, response.text
    assert response.json()["title"] == "Form"
    assert response.json()["width"] == 800


REFUSALS = [
    # (request JSON, status, code, words of the message)
    ({"url": "http://evil.test/photo.jpg"}, 422, "url-forbidden", "loopback"),
    ({"url": "http://169.254.169.254/latest/meta-data/"}, 422, "url-forbidden", "metadata"),
    ({"url": "http://2130706433/"}, 422, "url-forbidden", "loopback"),
    ({"url": "http://[::ffff:10.0.0.1]/"}, 422, "url-forbidden", "private"),
    ({"url": "http://images.test:22/"}, 422, "url-forbidden", "port"),
    ({"url": "http://images.test/to-metadata"}, 422, "url-forbidden", "metadata"),
    ({"url": "file:///etc/passwd"}, 400, "invalid-url", "http"),
    ({"url": "ftp://images.test/photo.jpg"}, 400, "invalid-url", "http"),
    ({"url": "http://me:pw@images.test/photo.jpg"}, 400, "invalid-url", "password"),
    ({"url": "not a link"}, 400, "invalid-url", "http"),
    ({"title": "no url"}, 400, "invalid-request", "url"),
    ({"url": "http://images.test/page.html"}, 415, "unsupported-media-type", "text/html"),
    ({"url": "http://images.test/huge"}, 413, "file-too-large", "4096 bytes"),
    ({"url": "http://images.test/empty"}, 400, "empty-upload", "empty"),
    ({"url": "http://images.test/missing"}, 422, "url-fetch-failed", "HTTP 404"),
    ({"url": "http://nowhere.test/"}, 422, "url-fetch-failed", "resolve"),
    ({"url": "http://images.test/loop0"}, 422, "too-many-redirects", "more than 3"),
]


@pytest.mark.parametrize(("payload", "status", "code", "words"), REFUSALS)
async def test_refusals_leave_nothing_behind(
    client: httpx.AsyncClient,
    app: FastAPI,
    settings: Settings,
    tmp_path: Path,
    links: Any,
    payload: dict[str, str],
    status: int,
    code: str,
    words: str,
) -> None:
    container_of(app).staging.max_bytes = 1024  # /huge (4096 bytes) is over it
    _server, _canary, network = links
    before = snapshot(tmp_path, settings.database_url)
    response = await client.post("/api/v1/images", json=payload)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    assert words in response.json()["error"]["message"]
    assert snapshot(tmp_path, settings.database_url) == before
    assert all(address == PUBLIC_V4 for address, _port in network.dialed)


async def test_files_and_a_url_together_are_refused(
    client: httpx.AsyncClient, settings: Settings, tmp_path: Path, links: Any
) -> None:
    before = snapshot(tmp_path, settings.database_url)
    response = await client.post(
        "/api/v1/images",
        data={"url": "http://images.test/photo.jpg"},
        files={"image": ("a.jpg", PHOTO, "image/jpeg")},
    )
    assert response.status_code == 400
    assert "not both" in response.json()["error"]["message"]
    assert snapshot(tmp_path, settings.database_url) == before
