"""Owned uploads, "My images" (keyset pagination), editing and deleting by owner, another
user, an admin and anonymous visitors; the setting that turns anonymous uploads off."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text, update

from pixstash.config import Settings
from pixstash.db.models import ImageRow
from tests import imagegen
from tests.accounts import ORIGIN, bearer, browser_login, make_user
from tests.api.conftest import CHEAP_HASHER
from tests.api.test_accounts import app_client
from tests.helpers import container_of, snapshot, sync_engine

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


def owner_of(settings: Settings, image_id: str) -> int | None:
    with sync_engine(settings.database_url) as engine, engine.connect() as conn:
        owner: int | None = conn.scalar(
            text("SELECT owner_id FROM images WHERE id = :id"), {"id": image_id}
        )
    return owner


async def test_uploads_belong_to_the_logged_in_uploader(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings
) -> None:
    ada = await make_user(app, "ada")
    bob = await make_user(app, "bob")
    ada_auth, bob_auth = await bearer(app, ada), await bearer(app, bob)
    by_token = await upload(client, ada_auth)
    anonymous = await upload(client)
    await browser_login(client, "ada")
    by_session = await upload(client, ORIGIN)
    client.cookies.clear()
    by_bob = await upload(client, bob_auth)
    assert owner_of(settings, by_token["id"]) == ada.id
    assert owner_of(settings, by_session["id"]) == ada.id
    assert owner_of(settings, anonymous["id"]) is None
    assert owner_of(settings, by_bob["id"]) == bob.id
    assert by_token["delete_token"]  # owners get a delete token too

    mine = (await client.get("/api/v1/me/images", headers=ada_auth)).json()
    assert [i["id"] for i in mine["images"]] == [by_session["id"], by_token["id"]]
    assert mine["next_cursor"] is None
    assert all(i["delete_token"] is None for i in mine["images"])
    bobs = (await client.get("/api/v1/me/images", headers=bob_auth)).json()
    assert [i["id"] for i in bobs["images"]] == [by_bob["id"]]


async def test_direct_uploads_remember_their_owner(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings
) -> None:
    ada = await make_user(app, "ada")
    auth = await bearer(app, ada)
    data = imagegen.png_alpha_bytes(60, 40)
    ticket = (
        await client.post(
            "/api/v1/uploads",
            json={"content_type": "image/png", "size": len(data)},
            headers=auth,
        )
    ).json()
    sent = await client.post(
        ticket["url"], data=ticket["fields"], files={"file": ("a.png", data, "image/png")}
    )
    assert sent.status_code == 204
    # completed anonymously (the upload id is the capability): still ada's
    done = await client.post(f"/api/v1/uploads/{ticket['upload_id']}/complete")
    assert done.status_code == 201
    assert owner_of(settings, done.json()["id"]) == ada.id


async def test_keyset_pages_with_equal_timestamps(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings
) -> None:
    ada = await make_user(app, "ada")
    auth = await bearer(app, ada)
    ids = [(await upload(client, auth))["id"] for _ in range(5)]
    same = datetime(2020, 12, 1, 12, 0, 0, 123456, tzinfo=UTC)
    with sync_engine(settings.database_url) as engine, engine.begin() as conn:
        conn.execute(update(ImageRow).where(ImageRow.id.in_(ids[:4])).values(created_at=same))
    # ids[4] is newest; the four others share one timestamp and are ordered by id
    expected = [ids[4], *sorted(ids[:4], reverse=True)]
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, str | int] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get("/api/v1/me/images", params=params, headers=auth)).json()
        seen += [image["id"] for image in page["images"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
        if pages == 1:  # a new upload meanwhile neither repeats nor shifts later pages
            await upload(client, auth)
    assert seen == expected
    assert pages == 3


async def test_a_forged_cursor_is_refused(client: httpx.AsyncClient, app: FastAPI) -> None:
    auth = await bearer(app, await make_user(app, "ada"))
    for cursor in ("garbage", "WyJub3QtYS1kYXRlIiwiYWJjIl0", "W10"):
        response = await client.get("/api/v1/me/images", params={"cursor": cursor}, headers=auth)
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "invalid-cursor"
    too_many = await client.get("/api/v1/me/images", params={"limit": 101}, headers=auth)
    assert too_many.status_code == 400


# --- who may edit and delete -------------------------------------------------------

ACTORS = ("owner", "another-user", "admin", "anonymous", "anonymous-with-delete-token")
ALLOWED = {"owner", "admin", "anonymous-with-delete-token"}
REFUSAL = {
    "another-user": "not-image-owner",
    "anonymous": "invalid-delete-token",
}


async def _actors(app: FastAPI) -> dict[str, dict[str, str]]:
    owner = await make_user(app, "owner")
    other = await make_user(app, "other")
    admin = await make_user(app, "admin", admin=True)
    return {
        "owner": await bearer(app, owner),
        "another-user": await bearer(app, other),
        "admin": await bearer(app, admin),
        "anonymous": {},
    }


@pytest.mark.parametrize("actor", ACTORS)
async def test_who_may_edit_an_owned_image(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings, tmp_path: Path, actor: str
) -> None:
    auth = await _actors(app)
    image = await upload(client, auth["owner"], title="old")
    headers = dict(auth.get(actor, {}))
    if actor == "anonymous-with-delete-token":
        headers["x-delete-token"] = image["delete_token"]
    before = snapshot(tmp_path, settings.database_url)
    response = await client.patch(
        f"/api/v1/images/{image['id']}", json={"title": "new"}, headers=headers
    )
    info = (await client.get(f"/api/v1/images/{image['id']}")).json()
    if actor in ALLOWED:
        assert response.status_code == 200
        assert response.json()["title"] == "new"
        assert info["title"] == "new"
    else:
        assert response.status_code == 403
        assert response.json()["error"]["code"] == REFUSAL[actor]
        assert info["title"] == "old"
        assert snapshot(tmp_path, settings.database_url) == before


@pytest.mark.parametrize("actor", ACTORS)
async def test_who_may_delete_an_owned_image(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings, tmp_path: Path, actor: str
) -> None:
    auth = await _actors(app)
    image = await upload(client, auth["owner"])
    headers = dict(auth.get(actor, {}))
    if actor == "anonymous-with-delete-token":
        headers["x-delete-token"] = image["delete_token"]
    before = snapshot(tmp_path, settings.database_url)
    response = await client.delete(f"/api/v1/images/{image['id']}", headers=headers)
    after = await client.get(f"/api/v1/images/{image['id']}")
    if actor in ALLOWED:
        assert response.status_code == 204
        assert after.status_code == 404
    else:
        assert response.status_code == 403
        assert response.json()["error"]["code"] == REFUSAL[actor]
        assert after.status_code == 200
        assert snapshot(tmp_path, settings.database_url) == before


async def test_a_wrong_delete_token_does_not_help_another_user(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    auth = await _actors(app)
    image = await upload(client, auth["owner"])
    response = await client.delete(
        f"/api/v1/images/{image['id']}", headers={**auth["another-user"], "x-delete-token": "no"}
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "invalid-delete-token"


async def test_anonymous_images_are_edited_with_their_delete_token(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    auth = await _actors(app)
    image = await upload(client)
    for actor in ("owner", "another-user"):  # nobody owns it: logged in is not enough
        refused = await client.patch(
            f"/api/v1/images/{image['id']}", json={"title": "mine"}, headers=auth[actor]
        )
        assert refused.status_code == 403
    edited = await client.patch(
        f"/api/v1/images/{image['id']}",
        json={"description": "  a cat\x00 ", "title": None},
        headers={"x-delete-token": image["delete_token"]},
    )
    assert edited.status_code == 200
    assert edited.json()["description"] == "a cat"
    assert edited.json()["title"] is None
    by_admin = await client.patch(
        f"/api/v1/images/{image['id']}", json={"title": "t"}, headers=auth["admin"]
    )
    assert by_admin.status_code == 200


async def test_edit_body_is_checked(client: httpx.AsyncClient, app: FastAPI) -> None:
    auth = await _actors(app)
    image = await upload(client, auth["owner"])
    for body in ({"owner_id": 5}, {"title": 5}, {"visibility": "secret"}):
        response = await client.patch(
            f"/api/v1/images/{image['id']}", json=body, headers=auth["owner"]
        )
        assert response.status_code == 400
    missing = await client.patch("/api/v1/images/AAAAAAA", json={}, headers=auth["owner"])
    assert missing.status_code == 404


async def test_my_images_page_edits_and_deletes(client: httpx.AsyncClient, app: FastAPI) -> None:
    await make_user(app, "ada")
    csrf = await browser_login(client, "ada")
    first = await upload(client, ORIGIN, title="first")
    second = await upload(client, ORIGIN)
    page = await client.get("/me")
    assert page.text.index(second["id"]) < page.text.index(first["id"])  # newest first
    assert 'value="first"' in page.text
    saved = await client.post(
        f"/me/images/{first['id']}",
        data={"csrf_token": csrf, "title": "renamed", "description": "words"},
    )
    assert saved.status_code == 303
    info = (await client.get(f"/api/v1/images/{first['id']}")).json()
    assert (info["title"], info["description"]) == ("renamed", "words")
    deleted = await client.post(f"/me/images/{second['id']}/delete", data={"csrf_token": csrf})
    assert deleted.status_code == 303
    assert (await client.get(f"/api/v1/images/{second['id']}")).status_code == 404


async def test_the_my_images_page_pages_by_cursor(
    client: httpx.AsyncClient, app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pixstash.web.pages import accounts as account_pages

    monkeypatch.setattr(account_pages, "PAGE_DEFAULT", 1)
    auth = await bearer(app, await make_user(app, "ada"))
    older, newer = await upload(client, auth), await upload(client, auth)
    await browser_login(client, "ada")
    first = await client.get("/me")
    assert newer["id"] in first.text
    assert older["id"] not in first.text
    link = first.text.split('href="/me?cursor=', 1)[1].split('"', 1)[0]
    second = await client.get(f"/me?cursor={link}")
    assert older["id"] in second.text
    assert newer["id"] not in second.text
    assert "/me?cursor=" not in second.text


async def test_anonymous_uploads_can_be_turned_off(settings: Settings, tmp_path: Path) -> None:
    closed = settings.model_copy(update={"anonymous_uploads": False})
    async with app_client(closed) as (app, client):
        before = snapshot(tmp_path, settings.database_url)
        refused = [
            await client.post("/api/v1/images", content=imagegen.jpeg_bytes()),
            await client.post(
                "/api/v1/images",
                files={"image": ("a.png", imagegen.png_alpha_bytes(60, 40), "image/png")},
            ),
            await client.post("/api/v1/uploads", json={"content_type": "image/png", "size": 10}),
        ]
        for response in refused:
            assert response.status_code == 401
            assert response.json()["error"]["code"] == "authentication-required"
        assert snapshot(tmp_path, settings.database_url) == before
        container_of(app).accounts.hasher = CHEAP_HASHER
        auth = await bearer(app, await make_user(app, "ada"))
        assert (await upload(client, auth))["id"]
