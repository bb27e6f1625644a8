"""Personal API tokens: create (shown once), list, revoke; bearer authentication."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from pixstash.config import Settings
from tests import imagegen
from tests.accounts import ORIGIN, bearer, browser_login, form_token, make_user
from tests.helpers import snapshot, sync_engine

pytestmark = pytest.mark.anyio


async def test_create_list_revoke(client: httpx.AsyncClient, app: FastAPI) -> None:
    ada = await make_user(app, "ada")
    auth = await bearer(app, ada, "first")
    await browser_login(client, "ada")  # tokens are made by a logged-in person
    created = await client.post("/api/v1/me/tokens", json={"name": "laptop"}, headers=ORIGIN)
    assert created.status_code == 201
    assert created.headers["cache-control"] == "no-store"
    body = created.json()
    token = body["token"]
    assert token.startswith("pxs_")
    assert len(token) >= 36
    assert token.startswith(body["prefix"])
    assert len(body["prefix"]) < len(token)

    new_auth = {"authorization": f"Bearer {token}"}
    assert (await client.get("/api/v1/me", headers=new_auth)).json() == {
        "id": ada.id,
        "username": "ada",
        "is_admin": False,
    }
    listed = (await client.get("/api/v1/me/tokens", headers=new_auth)).json()["tokens"]
    assert [t["name"] for t in listed] == ["laptop", "first"]
    assert all("token" not in t for t in listed)  # shown once, at creation only

    revoked = await client.delete(f"/api/v1/me/tokens/{body['id']}", headers=auth)
    assert revoked.status_code == 204
    refused = await client.get("/api/v1/me", headers=new_auth)
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "invalid-token"
    listed = (await client.get("/api/v1/me/tokens", headers=auth)).json()["tokens"]
    assert [t["name"] for t in listed] == ["first"]
    again = await client.delete(f"/api/v1/me/tokens/{body['id']}", headers=auth)
    assert again.status_code == 404
    assert again.json()["error"]["code"] == "token-not-found"


async def test_only_hashes_are_stored(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings
) -> None:
    ada = await make_user(app, "ada")
    token = (await bearer(app, ada))["authorization"].removeprefix("Bearer ")
    with sync_engine(settings.database_url) as engine, engine.connect() as conn:
        rows = conn.execute(text("SELECT token_hash, prefix FROM api_tokens")).all()
    assert len(rows) == 1
    assert token not in rows[0][0]
    assert len(rows[0][1]) == 10


async def test_nobody_revokes_anothers_token(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings, tmp_path: Path
) -> None:
    ada = await make_user(app, "ada")
    bob = await make_user(app, "bob")
    ada_auth = await bearer(app, ada)
    bob_auth = await bearer(app, bob)
    bob_id = (await client.get("/api/v1/me/tokens", headers=bob_auth)).json()["tokens"][0]["id"]
    before = snapshot(tmp_path, settings.database_url)
    refused = await client.delete(f"/api/v1/me/tokens/{bob_id}", headers=ada_auth)
    assert refused.status_code == 404
    assert snapshot(tmp_path, settings.database_url) == before
    assert (await client.get("/api/v1/me", headers=bob_auth)).status_code == 200


@pytest.mark.parametrize(
    "authorization", ["Bearer nonsense", "Bearer ", "bearer pxs_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"]
)
async def test_a_bad_bearer_token_is_refused_not_anonymous(
    client: httpx.AsyncClient, settings: Settings, tmp_path: Path, authorization: str
) -> None:
    before = snapshot(tmp_path, settings.database_url)
    for response in (
        await client.post(
            "/api/v1/images",
            content=imagegen.jpeg_bytes(),
            headers={"authorization": authorization},
        ),
        await client.get("/api/v1/me/images", headers={"authorization": authorization}),
    ):
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "invalid-token"
    assert snapshot(tmp_path, settings.database_url) == before


async def test_unauthenticated_calls_get_401(client: httpx.AsyncClient) -> None:
    for method, path in (
        ("GET", "/api/v1/me"),
        ("GET", "/api/v1/me/images"),
        ("GET", "/api/v1/me/tokens"),
        ("POST", "/api/v1/me/tokens"),
        ("DELETE", "/api/v1/me/tokens/1"),
        ("GET", "/api/v1/sharex.sxcu"),
        ("POST", "/api/v1/admin/users/1/disable"),
    ):
        response = await client.request(method, path, json={"name": "x"})
        assert response.status_code == 401, path
        assert response.json()["error"]["code"] == "authentication-required"


async def test_last_used_is_recorded_without_a_write_per_request(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings
) -> None:
    ada = await make_user(app, "ada")
    auth = await bearer(app, ada)
    first = (await client.get("/api/v1/me/tokens", headers=auth)).json()["tokens"][0]
    assert first["last_used_at"] is not None
    for _ in range(3):
        later = (await client.get("/api/v1/me/tokens", headers=auth)).json()["tokens"][0]
        assert later["last_used_at"] == first["last_used_at"]


async def test_tokens_page(client: httpx.AsyncClient, app: FastAPI) -> None:
    await make_user(app, "ada")
    csrf = await browser_login(client, "ada")
    page = await client.get("/me/tokens")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    created = await client.post("/me/tokens", data={"csrf_token": csrf, "name": "script"})
    assert created.status_code == 201
    assert "shown only once" in created.text
    token = created.text.split('id="new-token" readonly value="', 1)[1].split('"', 1)[0]
    auth = {"authorization": f"Bearer {token}"}
    assert (await client.get("/api/v1/me", headers=auth)).status_code == 200
    listing = await client.get("/me/tokens")
    assert "script" in listing.text
    assert token not in listing.text  # never shown again
    token_id = (await client.get("/api/v1/me/tokens", headers=auth)).json()["tokens"][0]["id"]
    revoked = await client.post(
        f"/me/tokens/{token_id}/revoke", data={"csrf_token": form_token(listing.text)}
    )
    assert revoked.status_code == 303
    assert (await client.get("/api/v1/me", headers=auth)).status_code == 401


async def test_the_session_api_manages_tokens_from_our_pages(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    await make_user(app, "ada")
    await browser_login(client, "ada")
    created = await client.post("/api/v1/me/tokens", json={"name": "x"}, headers=ORIGIN)
    assert created.status_code == 201
    foreign = await client.post(
        "/api/v1/me/tokens", json={"name": "x"}, headers={"origin": "https://evil.example"}
    )
    assert foreign.status_code == 403
    assert foreign.json()["error"]["code"] == "csrf-failed"


async def test_openapi_documents_bearer_auth_and_account_endpoints(
    client: httpx.AsyncClient,
) -> None:
    spec = (await client.get("/openapi.json")).json()
    assert spec["components"]["securitySchemes"]["api-token"]["scheme"] == "bearer"
    paths = spec["paths"]
    assert {"get", "post"} <= set(paths["/api/v1/me/tokens"])
    assert "patch" in paths["/api/v1/images/{image_id}"]
    for path in (
        "/api/v1/me/images",
        "/api/v1/sharex.sxcu",
        "/api/v1/admin/users/{user_id}/disable",
    ):
        assert path in paths
    assert {"api-token": []} in paths["/api/v1/images"]["post"]["security"]
    assert (await client.get("/docs")).status_code == 200


async def test_an_api_token_cannot_create_tokens(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings, tmp_path: Path
) -> None:
    """A stolen token must not outlive its revocation by minting others (ShareX's
    download makes a token too)."""
    ada = await make_user(app, "ada")
    auth = await bearer(app, ada)
    before = snapshot(tmp_path, settings.database_url)
    for method, path in (("POST", "/api/v1/me/tokens"), ("GET", "/api/v1/sharex.sxcu")):
        body = {"name": "more"} if method == "POST" else None
        refused = await client.request(method, path, json=body, headers=auth)
        assert refused.status_code == 403, (path, refused.text)
        assert refused.json()["error"]["code"] == "session-required"
    assert snapshot(tmp_path, settings.database_url) == before
