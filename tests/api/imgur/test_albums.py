"""``/3/album``: anonymous albums with deletehashes, owned ones with ids, uploads into
albums, the privacy mapping, and who may change what."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from pixstash.config import Settings
from tests import imagegen
from tests.accounts import bearer, make_user
from tests.api.imgur.conftest import CLIENT, data_of, error_of, upload
from tests.helpers import snapshot

pytestmark = pytest.mark.anyio

PNG = imagegen.png_alpha_bytes(40, 30)
JPEG = imagegen.jpeg_bytes(100, 80, seed=5)


async def test_anonymous_album_with_deletehashes(client: httpx.AsyncClient) -> None:
    first, second = await upload(client, PNG), await upload(client, JPEG)
    created = data_of(
        await client.post(
            "/3/album",
            headers=CLIENT,
            data={
                "deletehashes[]": [first["deletehash"], second["deletehash"]],
                "title": "Trip",
                "description": "by the sea",
                "cover": second["id"],
            },
        )
    )
    album_id, deletehash = created["id"], created["deletehash"]
    album = data_of(await client.get(f"/3/album/{album_id}", headers=CLIENT))
    assert (album["title"], album["description"]) == ("Trip", "by the sea")
    assert album["privacy"] == "hidden"  # Imgur's default: unlisted
    assert album["cover"] == second["id"]
    assert (album["cover_width"], album["cover_height"]) == (100, 80)
    assert album["link"] == f"http://testserver/a/{album_id}"
    assert album["images_count"] == 2
    assert [i["id"] for i in album["images"]] == [first["id"], second["id"]]
    assert "deletehash" not in album["images"][0]
    images = data_of(await client.get(f"/3/album/{album_id}/images", headers=CLIENT))
    assert [i["id"] for i in images] == [first["id"], second["id"]]

    third = await upload(client, PNG, album=deletehash)  # an upload into it
    added = await upload(client, JPEG)
    response = await client.post(
        f"/3/album/{deletehash}/add", headers=CLIENT, data={"deletehashes": added["deletehash"]}
    )
    assert data_of(response) is True
    images = data_of(await client.get(f"/3/album/{album_id}/images", headers=CLIENT))
    assert [i["id"] for i in images] == [first["id"], second["id"], third["id"], added["id"]]

    assert data_of(await client.delete(f"/3/album/{deletehash}", headers=CLIENT)) is True
    path = f"/3/album/{album_id}"
    error_of(await client.get(path, headers=CLIENT), 404, path, "GET")
    data_of(await client.get(f"/3/image/{first['id']}", headers=CLIENT))  # images stay


async def test_owned_album_with_ids(client: httpx.AsyncClient, app: FastAPI) -> None:
    ada = await make_user(app, "ada")
    auth = await bearer(app, ada)
    first, second = (
        await upload(client, PNG, headers=auth),
        await upload(client, JPEG, headers=auth),
    )
    created = data_of(
        await client.post(
            "/3/album", headers=auth, data={"ids[]": [first["id"]], "privacy": "public"}
        )
    )
    assert "deletehash" not in created  # owners need none
    album_id = created["id"]
    third = await upload(client, PNG, headers=auth, album=album_id)
    assert data_of(
        await client.post(f"/3/album/{album_id}/add", headers=auth, data={"ids": second["id"]})
    )
    album = data_of(await client.get(f"/3/album/{album_id}", headers=CLIENT))
    assert album["privacy"] == "public"
    assert (album["account_url"], album["account_id"]) == ("ada", ada.id)
    assert [i["id"] for i in album["images"]] == [first["id"], third["id"], second["id"]]
    assert data_of(await client.delete(f"/3/album/{album_id}", headers=auth)) is True


async def test_secret_albums_are_private(client: httpx.AsyncClient, app: FastAPI) -> None:
    ada = await make_user(app, "ada")
    auth = await bearer(app, ada)
    album_id = data_of(await client.post("/3/album", headers=auth, data={"privacy": "secret"}))[
        "id"
    ]
    assert data_of(await client.get(f"/3/album/{album_id}", headers=auth))["privacy"] == "secret"
    for path in (f"/3/album/{album_id}", f"/3/album/{album_id}/images"):
        error_of(await client.get(path, headers=CLIENT), 404, path, "GET")
    anonymous = await client.post("/3/album", headers=CLIENT, data={"privacy": "secret"})
    error_of(anonymous, 400, "/3/album", "POST")
    bad = await client.post("/3/album", headers=CLIENT, data={"privacy": "everyone"})
    error_of(bad, 400, "/3/album", "POST")


async def test_nobody_changes_an_album_or_uses_images_that_are_not_theirs(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings, tmp_path: Path
) -> None:
    ada, bob = await make_user(app, "ada"), await make_user(app, "bob")
    ada_auth, bob_auth = await bearer(app, ada), await bearer(app, bob)
    adas_image = await upload(client, PNG, headers=ada_auth)
    adas_album = data_of(await client.post("/3/album", headers=ada_auth, data={}))["id"]
    anon_image = await upload(client, JPEG)
    anon_album = data_of(await client.post("/3/album", headers=CLIENT, data={}))
    anon_add = f"/3/album/{anon_album['deletehash']}/add"
    before = snapshot(tmp_path, settings.database_url)

    refused: list[tuple[str, str, dict[str, str], dict[str, str], int]] = [
        # someone else's image into one's own album, by id
        ("POST", "/3/album", bob_auth, {"ids[]": adas_image["id"]}, 403),
        ("POST", anon_add, CLIENT, {"ids[]": adas_image["id"]}, 403),
        # an anonymous image without its deletehash
        ("POST", "/3/album", CLIENT, {"ids[]": anon_image["id"]}, 403),
        ("POST", "/3/album", CLIENT, {"deletehashes[]": "y" * 32}, 403),
        # someone else's album
        ("POST", f"/3/album/{adas_album}/add", bob_auth, {"ids[]": adas_image["id"]}, 403),
        ("POST", f"/3/album/{anon_album['id']}/add", CLIENT, {"ids[]": anon_image["id"]}, 403),
        ("DELETE", f"/3/album/{adas_album}", bob_auth, {}, 403),
        ("DELETE", f"/3/album/{adas_album}", CLIENT, {}, 403),
        ("DELETE", f"/3/album/{anon_album['id']}", bob_auth, {}, 403),
        ("DELETE", f"/3/album/{'z' * 32}", CLIENT, {}, 404),
        ("POST", f"/3/album/{adas_album}/add", ada_auth, {}, 400),
    ]  # fmt: skip
    for method, path, headers, fields, status in refused:
        response = await client.request(method, path, headers=headers, data=fields or None)
        error_of(response, status, path, method)
    # uploads into an album one may not change store nothing either
    for headers, album in ((bob_auth, adas_album), (CLIENT, anon_album["id"]), (CLIENT, "q" * 32)):
        response = await client.post(
            "/3/image", headers=headers, files={"image": ("a.png", PNG)}, data={"album": album}
        )
        assert response.status_code in (403, 404), response.text
    assert snapshot(tmp_path, settings.database_url) == before
    adas = data_of(await client.get(f"/3/album/{adas_album}", headers=ada_auth))
    assert adas["images"] == []
