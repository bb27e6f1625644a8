"""Views and bandwidth: counted in memory on media GETs (fast path included), added to
the database by a flush, additively across server processes."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from pixstash.config import Settings
from pixstash.db.stats import SqlImageStatsStore
from pixstash.services.views import ViewCounter
from tests import imagegen
from tests.api.imgur.conftest import CLIENT, data_of, upload
from tests.helpers import container_of, drain_jobs, sync_engine

pytestmark = pytest.mark.anyio


def stored(settings: Settings, image_id: str) -> tuple[int, int]:
    with sync_engine(settings.database_url) as engine, engine.connect() as conn:
        row = conn.execute(
            text("SELECT views, bandwidth FROM images WHERE id = :id"), {"id": image_id}
        ).one()
    return row.views, row.bandwidth


async def test_media_gets_are_counted_and_flushed(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings
) -> None:
    container = container_of(app)
    image = await upload(client, imagegen.jpeg_bytes(300, 200, seed=2))
    await drain_jobs(container)
    full = await client.get(image["link"])  # a miss: the routed media endpoint
    again = await client.get(image["link"])  # a hit: answered by the fast path
    thumb = await client.get(f"/{image['id']}t.jpg")  # bandwidth, not a view
    etag = full.headers["etag"]
    revalidated = await client.get(image["link"], headers={"if-none-match": etag})
    head = await client.head(image["link"])
    assert [r.status_code for r in (full, again, thumb, revalidated, head)] == [
        200,
        200,
        200,
        304,
        200,
    ]
    sent = len(full.content) + len(again.content) + len(thumb.content)
    assert stored(settings, image["id"]) == (0, 0)  # not a write per hit

    assert await container.views.flush() == 1
    assert stored(settings, image["id"]) == (2, sent)
    data = data_of(await client.get(f"/3/image/{image['id']}", headers=CLIENT))
    assert (data["views"], data["bandwidth"]) == (2, sent)
    assert await container.views.flush() == 0  # nothing new


async def test_servers_add_their_own_counts(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings
) -> None:
    container = container_of(app)
    image = await upload(client, imagegen.png_alpha_bytes(30, 30))
    gone = await upload(client, imagegen.png_alpha_bytes(31, 30))
    other_server = ViewCounter(SqlImageStatsStore(container.db))
    container.views.count(image["id"], 100, view=True)
    other_server.count(image["id"], 50, view=True)
    other_server.count(image["id"], 25, view=False)
    other_server.count(gone["id"], 7, view=True)
    assert data_of(await client.delete(f"/3/image/{gone['deletehash']}", headers=CLIENT))
    await container.views.flush()
    await other_server.flush()  # a deleted image's counts are dropped, not an error
    assert stored(settings, image["id"]) == (2, 175)
