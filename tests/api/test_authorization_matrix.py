"""The authorization matrix: (anonymous, owner, another user, admin) x (public, unlisted,
private) x (view, list, edit, delete), for images and for albums, through the API, the
pages and the media URLs. Nobody sees, lists, changes or deletes what is not theirs.

The expected outcomes are written out below, cell by cell, not derived from the rules
the code uses. "list" is: the public /recent listing, the owner's own listing
(/api/v1/me/images, /api/v1/me/albums) and an album's image listing.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI

from tests import imagegen
from tests.accounts import bearer, make_user
from tests.helpers import container_of, drain_jobs

pytestmark = pytest.mark.anyio

ACTORS = ("anonymous", "owner", "other", "admin")
VISIBILITIES = ("public", "unlisted", "private")
Y, N = True, False

# Images. view: status of GET /api/v1/images/{id} and of the share page /{id};
# media: status of the thumbnail at the link the actor was given (a signed /p/ URL for a
# private image's owner and admin) and of the public path /{id}t.png;
# recent: listed on /api/v1/recent; mine: listed on the actor's /api/v1/me/images
# (anonymous: 401); album: listed in the image listing of the owner's unlisted album;
# edit: status of PATCH (title); delete: status of DELETE (both without a delete token).
IMAGE_COLUMNS = ("view", "media", "public_path", "recent", "mine", "album", "edit", "delete")
# fmt: off
IMAGE_MATRIX: dict[str, dict[str, tuple[Any, ...]]] = {
    #                view media public recent mine album edit delete
    "public": {
        "anonymous": (200, 200,  200,   Y,     401, Y,    403, 403),
        "owner":     (200, 200,  200,   Y,     Y,   Y,    200, 204),
        "other":     (200, 200,  200,   Y,     N,   Y,    403, 403),
        "admin":     (200, 200,  200,   Y,     N,   Y,    200, 204),
    },
    "unlisted": {
        "anonymous": (200, 200,  200,   N,     401, Y,    403, 403),
        "owner":     (200, 200,  200,   N,     Y,   Y,    200, 204),
        "other":     (200, 200,  200,   N,     N,   Y,    403, 403),
        "admin":     (200, 200,  200,   N,     N,   Y,    200, 204),
    },
    "private": {
        "anonymous": (404, None, 404,   N,     401, N,    404, 404),
        "owner":     (200, 200,  404,   N,     Y,   Y,    200, 204),
        "other":     (404, None, 404,   N,     N,   N,    404, 404),
        "admin":     (200, 200,  404,   N,     N,   Y,    200, 204),
    },
}
# fmt: on

# Albums (owned by "owner", holding one of its public images). view: status of
# GET /api/v1/albums/{id}, of the page /a/{id} and of its zip; mine: listed on the
# actor's /api/v1/me/albums (anonymous: 401); edit: PATCH (title) and PUT (reorder);
# delete: DELETE.
ALBUM_COLUMNS = ("view", "mine", "edit", "delete")
# fmt: off
ALBUM_MATRIX: dict[str, dict[str, tuple[Any, ...]]] = {
    #                view mine edit delete
    "public": {
        "anonymous": (200, 401, 403, 403),
        "owner":     (200, Y,   200, 204),
        "other":     (200, N,   403, 403),
        "admin":     (200, N,   200, 204),
    },
    "unlisted": {
        "anonymous": (200, 401, 403, 403),
        "owner":     (200, Y,   200, 204),
        "other":     (200, N,   403, 403),
        "admin":     (200, N,   200, 204),
    },
    "private": {
        "anonymous": (404, 401, 404, 404),
        "owner":     (200, Y,   200, 204),
        "other":     (404, N,   404, 404),
        "admin":     (200, N,   200, 204),
    },
}
# fmt: on


async def actors(app: FastAPI) -> dict[str, dict[str, str]]:
    return {
        "anonymous": {},
        "owner": await bearer(app, await make_user(app, "owner")),
        "other": await bearer(app, await make_user(app, "other")),
        "admin": await bearer(app, await make_user(app, "admin", admin=True)),
    }


async def upload(
    client: httpx.AsyncClient, headers: dict[str, str], visibility: str
) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/images",
        files={"image": ("a.png", imagegen.png_alpha_bytes(60, 40), "image/png")},
        data={"visibility": visibility},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def local(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


async def listed(client: httpx.AsyncClient, url: str, headers: dict[str, str], key: str) -> Any:
    response = await client.get(url, headers=headers)
    if response.status_code != 200:
        return response.status_code
    return [item["id"] for item in response.json()[key]]


@pytest.mark.parametrize("visibility", VISIBILITIES)
@pytest.mark.parametrize("actor", ACTORS)
async def test_image_matrix(
    client: httpx.AsyncClient, app: FastAPI, actor: str, visibility: str
) -> None:
    expected = dict(zip(IMAGE_COLUMNS, IMAGE_MATRIX[visibility][actor], strict=True))
    auth = await actors(app)
    who = auth[actor]
    image = await upload(client, auth["owner"], visibility)
    image_id = image["id"]
    album = (
        await client.post("/api/v1/albums", json={"ids": [image_id]}, headers=auth["owner"])
    ).json()
    await drain_jobs(container_of(app))

    # view
    api = await client.get(f"/api/v1/images/{image_id}", headers=who)
    assert api.status_code == expected["view"]
    assert (await client.get(f"/{image_id}", headers=who)).status_code == expected["view"]
    if expected["media"] is not None:
        thumb = api.json()["links"]["thumb"]
        assert (await client.get(local(thumb))).status_code == expected["media"]
    assert (await client.get(f"/{image_id}t.png")).status_code == expected["public_path"]

    # list
    recent = await listed(client, "/api/v1/recent", who, "images")
    assert (image_id in recent) is expected["recent"]
    mine = await listed(client, "/api/v1/me/images", who, "images")
    assert mine == 401 if expected["mine"] == 401 else (image_id in mine) is expected["mine"]
    in_album = await listed(client, f"/api/v1/albums/{album['id']}", who, "images")
    assert (image_id in in_album) is expected["album"]

    # edit
    edit = await client.patch(f"/api/v1/images/{image_id}", json={"title": "mine now"}, headers=who)
    assert edit.status_code == expected["edit"], edit.text
    title = (await client.get(f"/api/v1/images/{image_id}", headers=auth["owner"])).json()["title"]
    assert (title == "mine now") is (expected["edit"] == 200)

    # delete
    delete = await client.delete(f"/api/v1/images/{image_id}", headers=who)
    assert delete.status_code == expected["delete"], delete.text
    still = await client.get(f"/api/v1/images/{image_id}", headers=auth["owner"])
    assert still.status_code == (404 if expected["delete"] == 204 else 200)


@pytest.mark.parametrize("visibility", VISIBILITIES)
@pytest.mark.parametrize("actor", ACTORS)
async def test_album_matrix(
    client: httpx.AsyncClient, app: FastAPI, actor: str, visibility: str
) -> None:
    expected = dict(zip(ALBUM_COLUMNS, ALBUM_MATRIX[visibility][actor], strict=True))
    auth = await actors(app)
    who = auth[actor]
    image = await upload(client, auth["owner"], "public")
    await drain_jobs(container_of(app))
    created = await client.post(
        "/api/v1/albums",
        json={"title": "Owner's", "visibility": visibility, "ids": [image["id"]]},
        headers=auth["owner"],
    )
    album_id = created.json()["id"]

    # view
    for url in (f"/api/v1/albums/{album_id}", f"/a/{album_id}", f"/a/{album_id}/zip"):
        assert (await client.get(url, headers=who)).status_code == expected["view"], url

    # list
    mine = await listed(client, "/api/v1/me/albums", who, "albums")
    assert mine == 401 if expected["mine"] == 401 else (album_id in mine) is expected["mine"]

    # edit
    edit = await client.patch(f"/api/v1/albums/{album_id}", json={"title": "x"}, headers=who)
    assert edit.status_code == expected["edit"], edit.text
    add = await client.put(
        f"/api/v1/albums/{album_id}/images", json={"ids": [image["id"]]}, headers=who
    )
    assert add.status_code == expected["edit"], add.text
    title = (await client.get(f"/api/v1/albums/{album_id}", headers=auth["owner"])).json()["title"]
    assert (title == "x") is (expected["edit"] == 200)

    # delete
    delete = await client.delete(f"/api/v1/albums/{album_id}", headers=who)
    assert delete.status_code == expected["delete"], delete.text
    still = await client.get(f"/api/v1/albums/{album_id}", headers=auth["owner"])
    assert still.status_code == (404 if expected["delete"] == 204 else 200)
    assert (await client.get(f"/api/v1/images/{image['id']}")).status_code == 200  # image stays
