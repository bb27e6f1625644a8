"""``/3/image`` and ``/3/upload`` with the request shapes of Imgur's API: a multipart
file, base64 in multipart and in a form-urlencoded body, a URL; with and without
``type``; updates and deletions by deletehash and by owner; every refusal leaves the
database and storage as they were."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from pixstash.config import Settings
from pixstash.security.addresses import AddressPolicy
from pixstash.security.fetcher import HttpFetcher
from tests import imagegen
from tests.accounts import bearer, make_user
from tests.api.imgur.conftest import CLIENT, data_of, error_of, upload
from tests.helpers import container_of, snapshot
from tests.linkserver import PUBLIC_V4, Canary, FakeResolver, LinkServer, Reply, RoutedNetwork
from tests.linkserver import running as running_servers

pytestmark = pytest.mark.anyio

PNG = imagegen.png_alpha_bytes(64, 48)
JPEG = imagegen.jpeg_bytes(320, 200, seed=3)
IMAGE_FIELDS = {
    "id", "title", "description", "datetime", "type", "animated", "width", "height",
    "size", "views", "bandwidth", "vote", "favorite", "nsfw", "section", "account_url",
    "account_id", "is_ad", "in_most_viral", "has_sound", "tags", "in_gallery", "link",
}  # fmt: skip


@pytest.fixture
async def link_server(app: FastAPI) -> AsyncIterator[Canary]:
    """``images.test`` serves a JPEG from loopback (the app's fetcher is pointed at it);
    anything else reaches the canary, which must see nothing."""
    canary = Canary()
    server = LinkServer({"/cat.jpg": Reply(body=JPEG, headers={"Content-Type": "image/jpeg"})})
    async with running_servers(canary, server):
        network = RoutedNetwork({(PUBLIC_V4, 80): server.port}, canary)
        resolver = FakeResolver({"images.test": [PUBLIC_V4], "evil.test": ["127.0.0.1"]})
        container_of(app).url_ingest.fetcher = HttpFetcher(
            AddressPolicy(), resolver=resolver, network=network, total_seconds=5
        )
        yield canary
        assert canary.connections == 0


async def test_multipart_file_upload_answers_imgurs_image(client: httpx.AsyncClient) -> None:
    data = await upload(client, PNG, title="Screenshot", description="from ShareX")
    assert set(data) >= IMAGE_FIELDS
    assert len(data["id"]) == 7
    assert data["title"] == "Screenshot"
    assert data["description"] == "from ShareX"
    assert data["type"] == "image/png"
    assert (data["width"], data["height"], data["size"]) == (64, 48, len(PNG))
    assert data["animated"] is False
    assert (data["views"], data["bandwidth"]) == (0, 0)
    assert (data["account_url"], data["account_id"]) == (None, None)
    assert (data["in_gallery"], data["tags"]) == (False, [])
    assert data["name"] == "shot.png"
    assert data["link"] == f"http://testserver/{data['id']}.png"
    assert isinstance(data["datetime"], int)
    assert len(data["deletehash"]) >= 16
    assert "mp4" not in data
    media = await client.get(data["link"])
    assert media.status_code == 200
    assert media.headers["content-type"] == "image/png"


@pytest.mark.parametrize("path", ["/3/image", "/3/upload"])
@pytest.mark.parametrize("kind", [None, "base64"])
async def test_base64_in_a_form_urlencoded_body(
    client: httpx.AsyncClient, path: str, kind: str | None
) -> None:
    """imgurpython's upload_from_path: ``data={"image": b64, "type": "base64", ...}``."""
    fields = {"image": base64.b64encode(JPEG).decode(), "title": "T+1 & more", "name": "c.jpg"}
    if kind:
        fields["type"] = kind
    data = data_of(await client.post(path, headers=CLIENT, data=fields))
    assert data["type"] == "image/jpeg"
    assert (data["width"], data["height"], data["size"]) == (320, 200, len(JPEG))
    assert data["title"] == "T+1 & more"
    assert data["name"] == "c.jpg"


@pytest.mark.parametrize("kind", [None, "base64"])
async def test_base64_as_a_multipart_text_field(
    client: httpx.AsyncClient, kind: str | None
) -> None:
    encoded = base64.encodebytes(JPEG).decode()  # line-wrapped, as some clients send it
    fields = {"image": encoded, **({"type": kind} if kind else {})}
    data = data_of(
        await client.post("/3/image", headers=CLIENT, files={"x": ("", b"")}, data=fields)
    )
    assert data["size"] == len(JPEG)
    assert data["name"] is None


@pytest.mark.parametrize(
    "encoded",
    [
        pytest.param(base64.urlsafe_b64encode(PNG).decode().rstrip("="), id="urlsafe-unpadded"),
        pytest.param("data:image/png;base64," + base64.b64encode(PNG).decode(), id="data-uri"),
        # a client that forgot to escape '+': it arrives as a literal '+'
        pytest.param(base64.b64encode(PNG).decode(), id="raw-plus"),
    ],
)
async def test_lenient_base64_forms(client: httpx.AsyncClient, encoded: str) -> None:
    body = "image=" + encoded.replace("/", "%2F").replace("=", "%3D").replace(",", "%2C")
    response = await client.post(
        "/3/image",
        headers={**CLIENT, "content-type": "application/x-www-form-urlencoded"},
        content=body,
    )
    assert data_of(response)["size"] == len(PNG)


@pytest.mark.parametrize("kind", [None, "url"])
async def test_upload_by_url(
    client: httpx.AsyncClient, link_server: Canary, kind: str | None
) -> None:
    fields = {"image": "http://images.test/cat.jpg", "title": "Cat"}
    if kind:
        fields["type"] = kind
    data = data_of(await client.post("/3/image", headers=CLIENT, data=fields))
    assert data["size"] == len(JPEG)
    assert data["title"] == "Cat"
    # in multipart too
    data = data_of(
        await client.post("/3/upload", headers=CLIENT, files={"image": (None, fields["image"])})
    )
    assert data["size"] == len(JPEG)


async def test_an_upload_by_url_to_a_private_address_is_refused(
    client: httpx.AsyncClient, link_server: Canary, settings: Settings, tmp_path: Path
) -> None:
    before = snapshot(tmp_path, settings.database_url)
    response = await client.post(
        "/3/image", headers=CLIENT, data={"image": "http://evil.test/x.jpg", "type": "url"}
    )
    assert error_of(response, 422, "/3/image", "POST")["code"] == "url-forbidden"
    assert snapshot(tmp_path, settings.database_url) == before


@pytest.mark.parametrize(
    ("fields", "status", "code"),
    [
        ({"image": "not base64 at all!!"}, 400, "invalid-request"),
        ({"image": "QUJD\x00REVG"}, 400, "invalid-request"),
        (
            {"image": base64.b64encode(b"plain text, no image").decode()},
            415,
            "unsupported-media-type",
        ),
        ({"image": base64.b64encode(JPEG).decode(), "type": "url"}, 400, "invalid-url"),
        ({"image": "https://images.test/cat.jpg", "type": "base64"}, 400, "invalid-request"),
        ({"image": base64.b64encode(JPEG).decode(), "type": "gif"}, 400, "invalid-request"),
        ({"image": ""}, 400, "empty-upload"),
        ({"title": "no image"}, 400, "empty-upload"),
        ({"video": "AAAA"}, 415, "unsupported-media-type"),
    ],
)
async def test_refused_uploads_answer_imgurs_error_and_store_nothing(
    client: httpx.AsyncClient,
    settings: Settings,
    tmp_path: Path,
    fields: dict[str, str],
    status: int,
    code: str,
) -> None:
    before = snapshot(tmp_path, settings.database_url)
    response = await client.post("/3/image", headers=CLIENT, data=fields)
    assert error_of(response, status, "/3/image", "POST")["code"] == code
    assert snapshot(tmp_path, settings.database_url) == before
    # the same in multipart
    response = await client.post("/3/image", headers=CLIENT, files={"x": ("", b"")}, data=fields)
    assert error_of(response, status, "/3/image", "POST")["code"] == code
    assert snapshot(tmp_path, settings.database_url) == before


async def test_a_video_file_is_refused(
    client: httpx.AsyncClient, settings: Settings, tmp_path: Path
) -> None:
    before = snapshot(tmp_path, settings.database_url)
    response = await client.post(
        "/3/upload", headers=CLIENT, files={"video": ("clip.mp4", b"\x00" * 4096, "video/mp4")}
    )
    error = error_of(response, 415, "/3/upload", "POST")
    assert "video" in error["error"].lower()
    assert snapshot(tmp_path, settings.database_url) == before


async def test_an_oversized_base64_image_is_refused_while_streaming(
    settings: Settings, tmp_path: Path
) -> None:
    from pixstash.web.app import create_app

    small = settings.model_copy(update={"max_upload_bytes": 10_000})
    app = create_app(small)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            before = snapshot(tmp_path, settings.database_url)
            big = base64.b64encode(imagegen.jpeg_bytes(800, 600, seed=1) * 2).decode()

            async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: streamed
                body = ("image=" + big.replace("+", "%2B").replace("/", "%2F")).encode()
                for start in range(0, len(body), 4096):
                    yield body[start : start + 4096]

            response = await c.post(
                "/3/image",
                headers={**CLIENT, "content-type": "application/x-www-form-urlencoded"},
                content=chunks(),
            )
            assert error_of(response, 413, "/3/image", "POST")["code"] == "file-too-large"
            assert snapshot(tmp_path, settings.database_url) == before


async def test_authorization_is_required(
    client: httpx.AsyncClient, settings: Settings, tmp_path: Path
) -> None:
    before = snapshot(tmp_path, settings.database_url)
    for headers in ({}, {"authorization": "Client-ID"}, {"authorization": "Basic eDp5"}):
        response = await client.post("/3/image", headers=headers, files={"image": ("a", PNG)})
        error = error_of(response, 401, "/3/image", "POST")
        assert error["error"].startswith("Authentication required")
    bad_token = await client.get("/3/credits", headers={"authorization": "Bearer pxs_nope"})
    assert error_of(bad_token, 401, "/3/credits", "GET")["code"] == "invalid-token"
    assert snapshot(tmp_path, settings.database_url) == before


async def test_configured_client_ids_only(settings: Settings) -> None:
    from pixstash.web.app import create_app

    app = create_app(settings.model_copy(update={"imgur_client_ids": ["mytool"]}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            other = await c.get("/3/credits", headers={"authorization": "Client-ID other"})
            assert error_of(other, 403, "/3/credits", "GET")["error"].startswith(
                "Invalid client_id"
            )
            mine = await c.get("/3/credits", headers={"authorization": "Client-ID mytool"})
            data_of(mine)


async def test_get_image_and_404s(client: httpx.AsyncClient, app: FastAPI) -> None:
    created = await upload(client, PNG, title="x")
    data = data_of(await client.get(f"/3/image/{created['id']}", headers=CLIENT))
    assert data["id"] == created["id"]
    assert "deletehash" not in data  # only the uploader sees it, at upload
    for path in ("/3/image/zzzzzzz", f"/3/image/{created['deletehash']}", "/3/nothing/here"):
        error_of(await client.get(path, headers=CLIENT), 404, path, "GET")


async def test_owned_uploads_name_their_account(client: httpx.AsyncClient, app: FastAPI) -> None:
    ada = await make_user(app, "ada")
    data = await upload(client, PNG, headers=await bearer(app, ada))
    assert data["account_url"] == "ada"
    assert data["account_id"] == ada.id
    seen = data_of(await client.get(f"/3/image/{data['id']}", headers=CLIENT))
    assert seen["account_url"] == "ada"


async def test_update_by_deletehash_and_by_owner(client: httpx.AsyncClient, app: FastAPI) -> None:
    anon = await upload(client, PNG, title="old")
    changed = await client.post(
        f"/3/image/{anon['deletehash']}", headers=CLIENT, data={"title": "new"}
    )
    assert data_of(changed) is True
    data = data_of(await client.get(f"/3/image/{anon['id']}", headers=CLIENT))
    assert (data["title"], data["description"]) == ("new", None)

    ada = await make_user(app, "ada")
    ada_auth = await bearer(app, ada)
    owned = await upload(client, PNG, headers=ada_auth, title="mine")
    response = await client.post(
        f"/3/image/{owned['id']}", headers=ada_auth, json={"description": "by JSON"}
    )
    assert data_of(response) is True
    data = data_of(await client.get(f"/3/image/{owned['id']}", headers=CLIENT))
    assert (data["title"], data["description"]) == ("mine", "by JSON")


async def test_nobody_edits_or_deletes_what_is_not_theirs(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings, tmp_path: Path
) -> None:
    ada, bob = await make_user(app, "ada"), await make_user(app, "bob")
    ada_auth, bob_auth = await bearer(app, ada), await bearer(app, bob)
    owned = await upload(client, PNG, headers=ada_auth, title="ada's")
    anon = await upload(client, JPEG, title="anon")
    before = snapshot(tmp_path, settings.database_url)
    attempts: list[tuple[str, dict[str, str], int]] = [
        (owned["id"], CLIENT, 403),  # anonymous, by id
        (owned["id"], bob_auth, 403),  # another user, by id
        (anon["id"], CLIENT, 403),  # an anonymous image by id, without its deletehash
        (anon["id"], bob_auth, 403),
        ("x" * 32, CLIENT, 404),  # a deletehash of nothing
    ]
    for ref, headers, status in attempts:
        path = f"/3/image/{ref}"
        error_of(
            await client.post(path, headers=headers, data={"title": "pwned"}), status, path, "POST"
        )
        error_of(await client.delete(path, headers=headers), status, path, "DELETE")
    assert snapshot(tmp_path, settings.database_url) == before
    for image in (owned, anon):
        data = data_of(await client.get(f"/3/image/{image['id']}", headers=CLIENT))
        assert data["title"] != "pwned"


async def test_delete_by_id_with_bearer_and_by_deletehash(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings, tmp_path: Path
) -> None:
    before = snapshot(tmp_path, settings.database_url)
    ada = await make_user(app, "ada")
    ada_auth = await bearer(app, ada)
    after_user = snapshot(tmp_path, settings.database_url)
    owned = await upload(client, PNG, headers=ada_auth)
    anon = await upload(client, JPEG)
    assert data_of(await client.delete(f"/3/image/{owned['id']}", headers=ada_auth)) is True
    assert data_of(await client.delete(f"/3/image/{anon['deletehash']}", headers=CLIENT)) is True
    for image in (owned, anon):
        path = f"/3/image/{image['id']}"
        error_of(await client.get(path, headers=CLIENT), 404, path, "GET")
    assert before != after_user  # the user and token rows
    counts = snapshot(tmp_path, settings.database_url)[1]
    assert (counts["images"], counts["blobs"]) == (0, 0)


async def test_an_admin_deletes_anything(client: httpx.AsyncClient, app: FastAPI) -> None:
    root = await make_user(app, "root", admin=True)
    anon = await upload(client, PNG)
    assert data_of(await client.delete(f"/3/image/{anon['id']}", headers=await bearer(app, root)))


async def test_animations_have_mp4_and_gifv(client: httpx.AsyncClient) -> None:
    data = await upload(client, imagegen.gif_bytes(frames=3))
    assert data["animated"] is True
    assert data["type"] == "image/gif"
    assert data["mp4"] == f"http://testserver/{data['id']}.mp4"
    assert data["gifv"] == f"http://testserver/{data['id']}"
    assert data["looping"] is True


async def test_errors_of_the_native_api_keep_their_shape(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/images/zzzzzzz")
    assert response.status_code == 404
    assert set(response.json()) == {"error"}


async def test_private_images_are_not_found_by_others(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    ada = await make_user(app, "ada")
    ada_auth = await bearer(app, ada)
    response = await client.post("/api/v1/images?visibility=private", headers=ada_auth, content=PNG)
    image_id: Any = response.json()["id"]
    path = f"/3/image/{image_id}"
    error_of(await client.get(path, headers=CLIENT), 404, path, "GET")
    assert data_of(await client.get(path, headers=ada_auth))["id"] == image_id
