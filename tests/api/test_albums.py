"""Albums through the API: create (anonymous with a delete token, or owned), add, remove,
reorder, cover, edit, delete; the share page; the streamed zip."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from pixstash.config import Settings
from tests import imagegen
from tests.accounts import bearer, make_user
from tests.helpers import container_of, drain_jobs, snapshot

pytestmark = pytest.mark.anyio


async def upload(
    client: httpx.AsyncClient,
    headers: dict[str, str] | None = None,
    *,
    seed: int = 1,
    **fields: str,
) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/images",
        files={"image": ("a.jpg", imagegen.jpeg_bytes(64 + seed, 48), "image/jpeg")},
        data=fields,
        headers=headers or {},
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def new_album(
    client: httpx.AsyncClient, headers: dict[str, str] | None = None, **body: Any
) -> dict[str, Any]:
    response = await client.post("/api/v1/albums", json=body, headers=headers or {})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def ids(album: dict[str, Any]) -> list[str]:
    return [image["id"] for image in album["images"]]


async def test_anonymous_album_lifecycle(client: httpx.AsyncClient, app: FastAPI) -> None:
    one, two, three = [await upload(client, seed=n) for n in (1, 2, 3)]
    album = await new_album(
        client,
        title="Trip",
        ids=[one["id"]],
        deletehashes=[one["delete_token"], two["delete_token"]],
        cover=two["id"],
    )
    token = {"X-Delete-Token": album["delete_token"]}
    assert album["image_count"] == 2
    assert album["cover"] == two["id"]
    assert album["links"]["page"] == f"http://testserver/a/{album['id']}"
    got = (await client.get(f"/api/v1/albums/{album['id']}")).json()
    assert ids(got) == [one["id"], two["id"]]
    assert got["delete_token"] is None  # shown once

    added = await client.post(
        f"/api/v1/albums/{album['id']}/images",
        json={"deletehashes": [three["delete_token"]]},
        headers=token,
    )
    assert added.status_code == 200, added.text
    assert added.json()["image_count"] == 3
    order = [three["id"], one["id"], two["id"]]
    reordered = await client.put(
        f"/api/v1/albums/{album['id']}/images", json={"ids": order}, headers=token
    )
    assert reordered.status_code == 200
    assert ids((await client.get(f"/api/v1/albums/{album['id']}")).json()) == order
    for wrong in (
        [three["id"], one["id"]],
        [*order, one["id"]],
        [three["id"], one["id"], "AAAAAAA"],
    ):
        mismatch = await client.put(
            f"/api/v1/albums/{album['id']}/images", json={"ids": wrong}, headers=token
        )
        assert mismatch.status_code == 400
        assert mismatch.json()["error"]["code"] == "album-images-mismatch"

    removed = await client.delete(f"/api/v1/albums/{album['id']}/images/{two['id']}", headers=token)
    assert removed.json()["cover"] is None  # the cover went with it
    assert removed.json()["image_count"] == 2
    edited = await client.patch(
        f"/api/v1/albums/{album['id']}",
        json={"title": "Trip 2", "cover": one["id"], "visibility": "public"},
        headers=token,
    )
    assert edited.status_code == 200
    assert (edited.json()["title"], edited.json()["cover"]) == ("Trip 2", one["id"])
    private = await client.patch(
        f"/api/v1/albums/{album['id']}", json={"visibility": "private"}, headers=token
    )
    assert private.json()["error"]["code"] == "private-needs-account"
    not_member = await client.patch(
        f"/api/v1/albums/{album['id']}", json={"cover": two["id"]}, headers=token
    )
    assert not_member.status_code == 400

    wrong = await client.delete(f"/api/v1/albums/{album['id']}", headers={"X-Delete-Token": "x"})
    assert wrong.json()["error"]["code"] == "invalid-delete-token"
    assert (await client.delete(f"/api/v1/albums/{album['id']}", headers=token)).status_code == 204
    assert (await client.get(f"/api/v1/albums/{album['id']}")).status_code == 404
    for image in (one, two, three):  # the images stay
        assert (await client.get(f"/api/v1/images/{image['id']}")).status_code == 200


async def test_the_album_is_found_by_its_delete_token(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    album = await new_album(client, title="x")
    albums = container_of(app).albums
    assert (await albums.get_by_delete_token(album["delete_token"])).id == album["id"]
    owned = await new_album(client, await bearer(app, await make_user(app, "ada")))
    assert owned["delete_token"] is None


async def test_nobody_puts_someone_elses_image_in_their_album(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings, tmp_path: Path
) -> None:
    ada = await bearer(app, await make_user(app, "ada"))
    bob = await bearer(app, await make_user(app, "bob"))
    adas = await upload(client, ada, seed=1)
    adas_private = await upload(client, ada, seed=2, visibility="private")
    anonymous = await upload(client, seed=3)
    bobs_album = await new_album(client, bob)
    before = snapshot(tmp_path, settings.database_url)
    attempts = [
        ({"ids": [adas["id"]]}, 403, "not-image-owner"),
        ({"ids": [adas_private["id"]]}, 404, "image-not-found"),
        ({"ids": [anonymous["id"]]}, 403, "not-image-owner"),
        ({"deletehashes": ["not-a-token"]}, 403, "invalid-delete-token"),
    ]
    for body, status, code in attempts:
        created = await client.post("/api/v1/albums", json=body, headers=bob)
        assert (created.status_code, created.json()["error"]["code"]) == (status, code)
        added = await client.post(
            f"/api/v1/albums/{bobs_album['id']}/images", json=body, headers=bob
        )
        assert (added.status_code, added.json()["error"]["code"]) == (status, code)
    # all or nothing: one foreign image refuses the whole request
    mixed = await client.post(
        "/api/v1/albums",
        json={"ids": [adas["id"]], "deletehashes": [anonymous["delete_token"]]},
        headers=bob,
    )
    assert mixed.status_code == 403
    # an album editor who is not the image's editor: an anonymous album, ada's image
    anon_album = await new_album(client)
    via_token = await client.post(
        f"/api/v1/albums/{anon_album['id']}/images",
        json={"ids": [adas["id"]]},
        headers={"X-Delete-Token": anon_album["delete_token"]},
    )
    assert via_token.status_code == 403
    after = snapshot(tmp_path, settings.database_url)
    assert after[0] == before[0]
    assert after[1] == {**before[1], "albums": before[1]["albums"] + 1}  # anon_album only


async def test_deleting_an_image_takes_it_out_of_albums_and_covers(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    one, two = await upload(client, seed=1), await upload(client, seed=2)
    album = await new_album(
        client, deletehashes=[one["delete_token"], two["delete_token"]], cover=one["id"]
    )
    gone = await client.delete(
        f"/api/v1/images/{one['id']}", headers={"X-Delete-Token": one["delete_token"]}
    )
    assert gone.status_code == 204
    got = (await client.get(f"/api/v1/albums/{album['id']}")).json()
    assert ids(got) == [two["id"]]
    assert got["cover"] is None
    assert got["image_count"] == 1


async def test_share_page_has_open_graph_tags_and_a_strict_csp(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    one, two = await upload(client, seed=1), await upload(client, seed=2)
    album = await new_album(
        client,
        title="Cats & dogs",
        deletehashes=[one["delete_token"], two["delete_token"]],
        cover=two["id"],
    )
    page = await client.get(f"/a/{album['id']}")
    assert page.status_code == 200
    html = page.text
    assert '<meta property="og:title" content="Cats &amp; dogs">' in html
    assert f'<meta property="og:url" content="http://testserver/a/{album["id"]}">' in html
    assert f'<meta property="og:image" content="http://testserver/{two["id"]}l.jpg">' in html
    assert '<meta name="twitter:card" content="summary_large_image">' in html
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    without_cover = await new_album(client, deletehashes=[one["delete_token"]])
    html = (await client.get(f"/a/{without_cover['id']}")).text
    assert f'<meta property="og:image" content="http://testserver/{one["id"]}l.jpg">' in html
    assert (await client.get("/a/AAAAAAA")).status_code == 404


async def test_zip_holds_every_full_size_image(client: httpx.AsyncClient, app: FastAPI) -> None:
    images = [await upload(client, seed=n) for n in range(3)]
    await drain_jobs(container_of(app))
    album = await new_album(client, deletehashes=[i["delete_token"] for i in images])
    for url in (f"/a/{album['id']}/zip", f"/api/v1/albums/{album['id']}/zip"):
        response = await client.get(url)
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/zip"
        assert "content-length" not in response.headers  # streamed
        assert f'filename="album-{album["id"]}.zip"' in response.headers["content-disposition"]
        archive = zipfile.ZipFile(io.BytesIO(response.content))
        assert archive.testzip() is None
        names = archive.namelist()
        assert [re.sub(r"^\d{3}-", "", n) for n in names] == [f"{i['id']}.jpg" for i in images]
        for name, image in zip(names, images, strict=True):
            full = await client.get(f"/{image['id']}.jpg")
            assert archive.read(name) == full.content  # the full variant: metadata stripped


async def test_zip_is_produced_while_it_is_sent(client: httpx.AsyncClient, app: FastAPI) -> None:
    """The archive reads one image at a time, as the client takes the bytes: when its
    first chunk is out, most images have not even been read."""
    container = container_of(app)
    images = [await upload(client, seed=n) for n in range(8)]
    await drain_jobs(container)
    album = await new_album(client, deletehashes=[i["delete_token"] for i in images])
    store = container.albums.store
    reads: list[str] = []
    original_get = store.get_bytes

    async def counting(key: str) -> bytes:
        reads.append(key)
        return await original_get(key)

    store.get_bytes = counting  # type: ignore[method-assign]
    try:
        archive = await container.albums.archive(album["id"], None)
        chunks = aiter(archive.chunks)
        first = await anext(chunks)
        assert first.startswith(b"PK")
        assert len(reads) <= 2
        rest = [chunk async for chunk in chunks]
    finally:
        store.get_bytes = original_get  # type: ignore[method-assign]
    assert len(reads) == 8
    assert zipfile.ZipFile(io.BytesIO(first + b"".join(rest))).testzip() is None
    assert max(len(c) for c in [first, *rest]) <= 65536 + 1024


async def test_private_album_of_another_is_not_found(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    ada = await bearer(app, await make_user(app, "ada"))
    album = await new_album(client, ada, visibility="private")
    for url in (f"/api/v1/albums/{album['id']}", f"/a/{album['id']}", f"/a/{album['id']}/zip"):
        assert (await client.get(url)).status_code == 404
        assert (await client.get(url, headers=ada)).status_code == 200
    mine = (await client.get("/api/v1/me/albums", headers=ada)).json()
    assert [a["id"] for a in mine["albums"]] == [album["id"]]
    anonymous = await client.post("/api/v1/albums", json={"visibility": "private"})
    assert anonymous.json()["error"]["code"] == "private-needs-account"
