"""Visibility: set at upload and by PATCH; the public "recent" listing (keyset); private
images only for their owner and admins, their media only through short-lived signed
URLs, never the public immutable path (nor the in-memory media cache)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI

from pixstash.config import Settings
from tests import imagegen
from tests.accounts import bearer, make_user
from tests.helpers import container_of, drain_jobs, snapshot

pytestmark = pytest.mark.anyio


async def upload(
    client: httpx.AsyncClient, headers: dict[str, str] | None = None, **fields: str
) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/images",
        files={"image": ("a.png", imagegen.png_alpha_bytes(60, 40), "image/png")},
        data=fields,
        headers=headers or {},
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


async def test_visibility_is_chosen_at_upload(client: httpx.AsyncClient, app: FastAPI) -> None:
    auth = await bearer(app, await make_user(app, "ada"))
    default = await upload(client)
    public = await upload(client, visibility="public")
    private = await upload(client, auth, visibility="PRIVATE")
    assert default["visibility"] == "unlisted"
    assert public["visibility"] == "public"
    assert private["visibility"] == "private"
    by_query = await client.post(
        "/api/v1/images?visibility=public",
        content=imagegen.png_alpha_bytes(60, 40),
        headers={"content-type": "image/png"},
    )
    assert by_query.json()["visibility"] == "public"


async def test_refused_visibilities_store_nothing(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings, tmp_path: Any
) -> None:
    before = snapshot(tmp_path, settings.database_url)
    anonymous_private = await client.post(
        "/api/v1/images",
        files={"image": ("a.png", imagegen.png_alpha_bytes(60, 40), "image/png")},
        data={"visibility": "private"},
    )
    assert anonymous_private.status_code == 400
    assert anonymous_private.json()["error"]["code"] == "private-needs-account"
    unknown = await client.post(
        "/api/v1/images?visibility=secret",
        content=imagegen.png_alpha_bytes(60, 40),
        headers={"content-type": "image/png"},
    )
    assert unknown.status_code == 400
    assert unknown.json()["error"]["code"] == "invalid-visibility"
    direct = await client.post(
        "/api/v1/uploads",
        json={"content_type": "image/png", "size": 10, "visibility": "private"},
    )
    assert direct.json()["error"]["code"] == "private-needs-account"
    assert snapshot(tmp_path, settings.database_url) == before


async def test_recent_lists_public_images_newest_first_by_keyset(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    auth = await bearer(app, await make_user(app, "ada"))
    public = [(await upload(client, visibility="public"))["id"] for _ in range(5)]
    await upload(client)  # unlisted
    await upload(client, auth, visibility="private")
    seen: list[str] = []
    cursor = None
    while True:
        query = "/api/v1/images?scope=recent&limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = (await client.get(query)).json()
        seen += [image["id"] for image in page["images"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == public[::-1]
    alias = (await client.get("/api/v1/recent")).json()
    assert [image["id"] for image in alias["images"]] == public[::-1]
    html = (await client.get("/recent?limit=2")).text
    assert f"/{public[-1]}t.png" in html
    assert f"/{public[-2]}t.png" in html
    assert f"/{public[0]}t.png" not in html
    assert "/recent?cursor=" in html
    bad = await client.get("/api/v1/recent?cursor=nonsense")
    assert bad.json()["error"]["code"] == "invalid-cursor"


async def test_private_media_only_through_signed_urls(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    auth = await bearer(app, await make_user(app, "ada"))
    image = await upload(client, auth, visibility="private")
    await drain_jobs(container_of(app))
    image_id = image["id"]
    assert (await client.get(f"/{image_id}t.png")).status_code == 404  # the public path
    assert (await client.get(f"/{image_id}.png")).status_code == 404
    info = (await client.get(f"/api/v1/images/{image_id}", headers=auth)).json()
    thumb = info["links"]["thumb"]
    assert urlsplit(thumb).path == f"/p/{image_id}t.png"
    signed = await client.get(path_of(thumb))
    assert signed.status_code == 200
    assert signed.headers["content-type"] == "image/png"
    cache = signed.headers["cache-control"]
    assert cache.startswith("private, max-age=")
    assert "immutable" not in cache
    assert 0 < int(cache.split("=")[1]) <= container_of(app).settings.private_link_seconds + 60
    # still never on the public path, though the owner just fetched it
    assert (await client.get(f"/{image_id}t.png")).status_code == 404
    query = urlsplit(thumb).query
    altered = query[:-1] + ("1" if query.endswith("0") else "0")
    for forged in (
        f"/p/{image_id}m.png?{query}",  # another variant with this signature
        f"/p/{image_id}t.png?{altered}",
        f"/p/{image_id}t.png",
    ):
        assert (await client.get(forged)).status_code == 404
    container_of(app).clock.advance(timedelta(hours=1))
    assert (await client.get(path_of(thumb))).status_code == 404  # the link expired


async def test_switching_to_private_leaves_the_public_path_at_once(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    auth = await bearer(app, await make_user(app, "ada"))
    image = await upload(client, auth, visibility="public")
    await drain_jobs(container_of(app))
    url = f"/{image['id']}t.png"
    assert (await client.get(url)).status_code == 200
    assert container_of(app).media.cached(url[1:]) is not None  # the fast path would serve it
    patched = await client.patch(
        f"/api/v1/images/{image['id']}", json={"visibility": "private"}, headers=auth
    )
    assert patched.status_code == 200
    assert patched.json()["visibility"] == "private"
    assert (await client.get(url)).status_code == 404
    assert image["id"] not in [
        i["id"] for i in (await client.get("/api/v1/recent")).json()["images"]
    ]
    back = await client.patch(
        f"/api/v1/images/{image['id']}", json={"visibility": "public"}, headers=auth
    )
    assert back.json()["visibility"] == "public"
    assert (await client.get(url)).status_code == 200


async def test_anonymous_images_cannot_become_private(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    image = await upload(client)
    token = {"X-Delete-Token": image["delete_token"]}
    refused = await client.patch(
        f"/api/v1/images/{image['id']}", json={"visibility": "private"}, headers=token
    )
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "private-needs-account"
    made_public = await client.patch(
        f"/api/v1/images/{image['id']}", json={"visibility": "public"}, headers=token
    )
    assert made_public.json()["visibility"] == "public"


async def test_private_share_page_is_for_the_owner(client: httpx.AsyncClient, app: FastAPI) -> None:
    ada = await make_user(app, "ada")
    image = await upload(client, await bearer(app, ada), visibility="private")
    assert (await client.get(f"/{image['id']}")).status_code == 404
    oembed = await client.get(f"/oembed?url=http://testserver/{image['id']}")
    assert oembed.status_code == 404
