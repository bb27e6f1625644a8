"""The ShareX custom uploader config: its contents, and that an upload made the way ShareX
makes it answers JSON in which every ``{json:...}`` path resolves."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests import imagegen
from tests.accounts import browser_login, make_user
from tests.helpers import container_of, drain_jobs

pytestmark = pytest.mark.anyio
_JSON_PATH = re.compile(r"^\{json:([A-Za-z0-9_.]+)\}$")


def resolve(template: str, body: Any) -> Any:
    """ShareX's ``{json:a.b}`` syntax (the part these configs use): a dotted path."""
    found = _JSON_PATH.match(template)
    assert found is not None, template
    for name in found.group(1).split("."):
        assert isinstance(body, dict)
        assert name in body, f"{template}: no {name!r} in {body}"
        body = body[name]
    return body


async def sharex_upload(
    client: httpx.AsyncClient, config: dict[str, Any], data: bytes, name: str
) -> httpx.Response:
    """POST a file as ShareX does with this config."""
    assert config["RequestMethod"] == "POST"
    assert config["Body"] == "MultipartFormData"
    return await client.post(
        config["RequestURL"],
        headers=config["Headers"],
        files={config["FileFormName"]: (name, data, "application/octet-stream")},
    )


async def test_sharex_config_uploads_and_links(client: httpx.AsyncClient, app: FastAPI) -> None:
    await make_user(app, "ada")
    await browser_login(client, "ada")  # downloaded from the web, logged in
    response = await client.get("/api/v1/sharex.sxcu")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["content-disposition"] == (
        'attachment; filename="pixstash-testserver.sxcu"'
    )
    assert response.headers["cache-control"] == "no-store"
    config = response.json()
    version = tuple(int(part) for part in config["Version"].split("."))
    assert version >= (14, 0, 0)
    assert config["DestinationType"] == "ImageUploader, FileUploader"
    assert config["RequestURL"] == "http://testserver/api/v1/images"
    assert config["FileFormName"] == "image"
    assert config["URL"] == "{json:links.page}"
    assert config["ThumbnailURL"] == "{json:links.thumb}"
    assert config["DeletionURL"] == "{json:links.delete}"
    assert config["ErrorMessage"] == "{json:error.message}"
    assert config["Headers"]["Authorization"].startswith("Bearer pxs_")
    tokens = (await client.get("/api/v1/me/tokens")).json()["tokens"]
    assert "ShareX" in [token["name"] for token in tokens]  # a fresh token, listed

    client.cookies.clear()
    uploaded = await sharex_upload(client, config, imagegen.jpeg_bytes(), "shot.jpg")
    assert uploaded.status_code == 201
    body = uploaded.json()
    await drain_jobs(container_of(app))
    page = resolve(config["URL"], body)
    thumb = resolve(config["ThumbnailURL"], body)
    deletion = resolve(config["DeletionURL"], body)
    assert page == f"http://testserver/{body['id']}"
    assert (await client.get(page)).status_code == 200
    thumb_response = await client.get(thumb)
    assert thumb_response.status_code == 200
    assert thumb_response.headers["content-type"] == "image/jpeg"
    confirm = await client.get(deletion)  # the confirmation page, which deletes nothing
    assert confirm.status_code == 200
    assert "Delete this image?" in confirm.text
    assert (await client.get(page)).status_code == 200
    auth = {"authorization": config["Headers"]["Authorization"]}  # ShareX's own token
    mine = (await client.get("/api/v1/me/images", headers=auth)).json()["images"]
    assert [image["id"] for image in mine] == [body["id"]]  # owned by the token's user

    refused = await sharex_upload(client, config, b"not an image at all", "notes.txt")
    assert refused.status_code == 415
    assert resolve(config["ErrorMessage"], refused.json()) == refused.json()["error"]["message"]


async def test_sharex_config_from_the_web_session(client: httpx.AsyncClient, app: FastAPI) -> None:
    await make_user(app, "ada")
    await browser_login(client, "ada")
    assert 'href="/api/v1/sharex.sxcu"' in (await client.get("/me")).text
    response = await client.get("/api/v1/sharex.sxcu")
    assert response.status_code == 200
    token = json.loads(response.text)["Headers"]["Authorization"]
    client.cookies.clear()
    assert (await client.get("/api/v1/me", headers={"authorization": token})).status_code == 200
