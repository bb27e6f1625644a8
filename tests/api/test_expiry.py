"""Expiry: ``expires_in`` on upload; an expired image disappears from every URL at once
(page, JSON, media even when cached, oEmbed, albums) and the sweeper deletes it. Time
moves by the container's clock, never by sleeping."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from pixstash.config import Settings
from tests import imagegen
from tests.api.test_visibility import upload
from tests.helpers import container_of, drain_jobs, snapshot

pytestmark = pytest.mark.anyio


async def test_expires_in_sets_expires_at(client: httpx.AsyncClient, app: FastAPI) -> None:
    for choice, delta in (("1h", timedelta(hours=1)), ("7d", timedelta(days=7))):
        image = await upload(client, expires_in=choice)
        info = (await client.get(f"/api/v1/images/{image['id']}")).json()
        created = info["created_at"]
        assert info["expires_at"] is not None
        gap = datetime.fromisoformat(info["expires_at"]) - datetime.fromisoformat(created)
        assert gap == delta
    never = await upload(client)
    assert never["expires_at"] is None


@pytest.mark.parametrize("value", ["2h", "1 hour", "0", "-1d", "30"])
async def test_other_lifetimes_are_refused(
    client: httpx.AsyncClient, settings: Settings, tmp_path: Path, value: str
) -> None:
    before = snapshot(tmp_path, settings.database_url)
    response = await client.post(
        "/api/v1/images",
        files={"image": ("a.png", imagegen.png_alpha_bytes(60, 40), "image/png")},
        data={"expires_in": value},
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid-expiry"
    direct = await client.post(
        "/api/v1/uploads", json={"content_type": "image/png", "size": 10, "expires_in": value}
    )
    assert direct.json()["error"]["code"] == "invalid-expiry"
    assert snapshot(tmp_path, settings.database_url) == before


async def test_an_expired_image_is_gone_everywhere_at_once(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    container = container_of(app)
    image = await upload(client, expires_in="1h", visibility="public")
    other = await upload(client, visibility="public")
    await drain_jobs(container)
    image_id = image["id"]
    album = (
        await client.post(
            "/api/v1/albums", json={"deletehashes": [image["delete_token"], other["delete_token"]]}
        )
    ).json()
    urls = [
        f"/{image_id}",
        f"/api/v1/images/{image_id}",
        f"/{image_id}t.png",
        f"/{image_id}.png",
        f"/oembed?url=http://testserver/{image_id}",
    ]
    for url in urls:
        assert (await client.get(url)).status_code == 200, url
    assert container.media.cached(f"{image_id}t.png") is not None

    container.clock.advance(timedelta(minutes=59))
    assert (await client.get(f"/{image_id}t.png")).status_code == 200
    container.clock.advance(timedelta(minutes=1))
    for url in urls:  # the cached thumbnail too: the cache knows the image's expiry
        assert (await client.get(url)).status_code == 404, url
    recent = (await client.get("/api/v1/recent")).json()
    assert [i["id"] for i in recent["images"]] == [other["id"]]
    listed = (await client.get(f"/api/v1/albums/{album['id']}")).json()
    assert [i["id"] for i in listed["images"]] == [other["id"]]
    refused = await client.delete(
        f"/api/v1/images/{image_id}", headers={"X-Delete-Token": image["delete_token"]}
    )
    assert refused.status_code == 404


async def test_the_sweeper_deletes_expired_images_and_their_blobs(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings, tmp_path: Path
) -> None:
    container = container_of(app)
    kept = await upload(client)
    await drain_jobs(container)
    before = snapshot(tmp_path, settings.database_url)
    response = await client.post(
        "/api/v1/images",
        files={"image": ("b.jpg", imagegen.jpeg_bytes(80, 60), "image/jpeg")},
        data={"expires_in": "1d"},
    )
    assert response.status_code == 201
    await drain_jobs(container)
    assert await container.images.sweep_expired() == 0  # nothing is due yet
    container.clock.advance(timedelta(days=1, seconds=1))
    assert await container.images.sweep_expired() == 1
    await drain_jobs(container)
    assert snapshot(tmp_path, settings.database_url) == before  # rows, original, variants
    assert (await client.get(f"/api/v1/images/{kept['id']}")).status_code == 200
    assert await container.images.sweep_expired() == 0  # idempotent


async def test_gc_sweeps_expired_images_too(client: httpx.AsyncClient, app: FastAPI) -> None:
    container = container_of(app)
    image = await upload(client, expires_in="1h")
    container.clock.advance(timedelta(hours=2))
    report = await container.maintenance.collect_garbage(grace_seconds=3600)
    assert report.expired_images == 1
    assert await container.meta.get_image(image["id"]) is None


async def test_the_job_runner_sweeps_periodically(app: FastAPI, client: httpx.AsyncClient) -> None:
    """Both shapes build their runner with ``make_runner``: it carries the sweeper."""
    container = container_of(app)
    runner = container.make_runner(1)
    periodic = {name: (interval, task) for name, interval, task in runner.periodic}
    interval, task = periodic["expiry-sweeper"]
    assert interval == container.settings.expiry_sweep_seconds
    image = await upload(client, expires_in="1h")
    container.clock.advance(timedelta(hours=2))
    await task()
    assert await container.meta.get_image(image["id"]) is None


async def test_direct_uploads_expire_too(client: httpx.AsyncClient, app: FastAPI) -> None:
    data = imagegen.png_alpha_bytes(60, 40)
    ticket = (
        await client.post(
            "/api/v1/uploads",
            json={"content_type": "image/png", "size": len(data), "expires_in": "1h"},
        )
    ).json()
    sent = await client.post(
        ticket["url"], data=ticket["fields"], files={"file": ("a.png", data, "image/png")}
    )
    assert sent.status_code == 204, sent.text
    done = await client.post(f"/api/v1/uploads/{ticket['upload_id']}/complete")
    assert done.status_code == 201
    assert done.json()["expires_at"] is not None
    container_of(app).clock.advance(timedelta(hours=1))
    assert (await client.get(f"/api/v1/images/{done.json()['id']}")).status_code == 404
