"""Register, log in, log out in the web UI; session cookies; CSRF on every form."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from pixstash.config import Settings
from tests import imagegen
from tests.accounts import (
    ORIGIN,
    PASSWORD,
    bearer,
    browser_login,
    form_token,
    make_user,
)
from tests.helpers import container_of, snapshot, sync_engine

pytestmark = pytest.mark.anyio


def session_rows(settings: Settings) -> int:
    with sync_engine(settings.database_url) as engine, engine.connect() as conn:
        return int(conn.scalar(text("SELECT count(*) FROM web_sessions")) or 0)


async def test_register_log_out_and_in_again(client: httpx.AsyncClient, settings: Settings) -> None:
    page = await client.get("/register")
    assert page.status_code == 200
    assert "pixstash_csrf" in page.headers["set-cookie"]
    registered = await client.post(
        "/register",
        data={
            "csrf_token": form_token(page.text),
            "username": "Ada",
            "password": PASSWORD,
            "password_again": PASSWORD,
        },
    )
    assert registered.status_code == 303
    assert registered.headers["location"] == "/me"
    cookie = registered.headers["set-cookie"]
    assert cookie.startswith("pixstash_session=")
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Secure" not in cookie  # plain http public URL
    assert f"Max-Age={settings.session_seconds}" in cookie
    me = await client.get("/me")
    assert me.status_code == 200
    assert "Logged in as <strong>Ada</strong>" in me.text
    assert 'action="/logout"' in me.text
    assert session_rows(settings) == 1

    out = await client.post("/logout", data={"csrf_token": form_token(me.text)})
    assert out.status_code == 303
    assert 'pixstash_session=""' in out.headers["set-cookie"]
    assert session_rows(settings) == 0
    gone = await client.get("/me")
    assert gone.status_code == 303
    assert gone.headers["location"] == "/login?next=%2Fme"
    home = await client.get("/")
    assert 'href="/login"' in home.text

    await browser_login(client, "ada")  # the name is case-insensitive
    assert session_rows(settings) == 1


async def test_a_stolen_cookie_dies_with_logout(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings
) -> None:
    await make_user(app, "ada")
    csrf = await browser_login(client, "ada")
    stolen = dict(client.cookies)
    await client.post("/logout", data={"csrf_token": csrf})
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", cookies=stolen
    ) as thief:
        assert (await thief.get("/api/v1/me")).json()["error"]["code"] == "authentication-required"


@pytest.mark.parametrize("username", ["ada", "nobody"])
async def test_wrong_password_or_unknown_user_logs_nobody_in(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings, username: str
) -> None:
    await make_user(app, "ada")
    page = await client.get("/login")
    response = await client.post(
        "/login",
        data={"csrf_token": form_token(page.text), "username": username, "password": "wrong pass"},
    )
    assert response.status_code == 401
    assert "Wrong username or password." in response.text  # the same words for both
    assert "pixstash_session" not in response.headers.get("set-cookie", "")
    assert session_rows(settings) == 0


async def test_login_goes_back_only_to_local_pages(client: httpx.AsyncClient, app: FastAPI) -> None:
    await make_user(app, "ada")
    for target, expected in (
        ("/me/tokens", "/me/tokens"),
        ("https://evil.example/", "/me"),
        ("//evil.example/", "/me"),
    ):
        client.cookies.clear()
        page = await client.get("/login", params={"next": target})
        response = await client.post(
            "/login",
            data={
                "csrf_token": form_token(page.text),
                "username": "ada",
                "password": PASSWORD,
                "next": target,
            },
        )
        assert response.headers["location"] == expected


async def test_a_disabled_user_is_logged_out_everywhere(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings
) -> None:
    admin = await make_user(app, "root", admin=True)
    ada = await make_user(app, "ada")
    token = await bearer(app, ada)
    await browser_login(client, "ada")
    assert (await client.get("/api/v1/me", headers=token)).status_code == 200

    not_admin = await client.post(f"/api/v1/admin/users/{admin.id}/disable", headers=token)
    assert not_admin.status_code == 403
    assert not_admin.json()["error"]["code"] == "admin-required"

    admin_token = await bearer(app, admin)
    missing = await client.post("/api/v1/admin/users/9999/disable", headers=admin_token)
    assert missing.status_code == 404
    done = await client.post(f"/api/v1/admin/users/{ada.id}/disable", headers=admin_token)
    assert done.status_code == 204
    assert session_rows(settings) == 0
    assert (await client.get("/me")).status_code == 303  # the cookie is worth nothing now
    revoked = await client.get("/api/v1/me", headers=token)
    assert revoked.status_code == 401
    assert revoked.json()["error"]["code"] == "invalid-token"

    client.cookies.clear()
    page = await client.get("/login")
    again = await client.post(
        "/login",
        data={"csrf_token": form_token(page.text), "username": "ada", "password": PASSWORD},
    )
    assert again.status_code == 403
    assert "disabled" in again.text


async def test_admin_page_section_disables_a_user(client: httpx.AsyncClient, app: FastAPI) -> None:
    await make_user(app, "root", admin=True)
    ada = await make_user(app, "ada")
    ada_token = await bearer(app, ada)
    csrf = await browser_login(client, "root")
    me = await client.get("/me")
    assert 'action="/admin/users/disable"' in me.text
    done = await client.post("/admin/users/disable", data={"csrf_token": csrf, "username": "ADA"})
    assert done.status_code == 303
    assert "ada is disabled" in (await client.get(done.headers["location"])).text
    assert (await client.get("/api/v1/me", headers=ada_token)).status_code == 401


async def test_an_ordinary_user_sees_no_admin_section(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings, tmp_path: Path
) -> None:
    await make_user(app, "ada")
    await make_user(app, "bob")
    csrf = await browser_login(client, "ada")
    assert "/admin/users/disable" not in (await client.get("/me")).text
    before = snapshot(tmp_path, settings.database_url)
    refused = await client.post(
        "/admin/users/disable", data={"csrf_token": csrf, "username": "bob"}
    )
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "admin-required"
    refused_unknown = await client.post(
        "/admin/users/disable", data={"csrf_token": csrf, "username": "nobody"}
    )
    assert refused_unknown.status_code == 403  # does not tell which names exist
    assert snapshot(tmp_path, settings.database_url) == before


@pytest.mark.parametrize("token", [None, "", "forged"])
@pytest.mark.parametrize(
    "path",
    [
        "/login",
        "/register",
        "/logout",
        "/me/tokens",
        "/me/tokens/1/revoke",
        "/me/images/IMAGEID",
        "/me/images/IMAGEID/delete",
        "/admin/users/disable",
    ],
)
async def test_forms_without_the_csrf_token_change_nothing(
    client: httpx.AsyncClient,
    app: FastAPI,
    settings: Settings,
    tmp_path: Path,
    path: str,
    token: str | None,
) -> None:
    await make_user(app, "root", admin=True)
    await make_user(app, "bob")
    await browser_login(client, "root")
    await client.post("/me/tokens", data={"csrf_token": await _csrf(client), "name": "n"})
    image = await client.post("/api/v1/images", content=imagegen.jpeg_bytes(), headers=ORIGIN)
    path = path.replace("IMAGEID", image.json()["id"])
    await client.get("/login")  # the double-submit cookie exists, so only the token is wrong
    fields = {
        "username": "bob",
        "password": PASSWORD,
        "password_again": PASSWORD,
        "name": "x",
        "title": "changed",
    }
    if token is not None:
        fields["csrf_token"] = token
    before = snapshot(tmp_path, settings.database_url)
    response = await client.post(path, data=fields)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "csrf-failed"
    assert snapshot(tmp_path, settings.database_url) == before
    assert (await client.get("/api/v1/me")).json()["username"] == "root"  # still logged in
    assert (await client.get(f"/api/v1/images/{image.json()['id']}")).json()["title"] is None


async def _csrf(client: httpx.AsyncClient) -> str:
    return form_token((await client.get("/me")).text)


async def test_the_login_token_of_another_visitor_is_refused(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings
) -> None:
    """Double-submit: a token is only good with the cookie it was made for."""
    await make_user(app, "ada")
    page = await client.get("/login")
    client.cookies.clear()
    await client.get("/login")  # a fresh cookie
    response = await client.post(
        "/login",
        data={"csrf_token": form_token(page.text), "username": "ada", "password": PASSWORD},
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "csrf-failed"
    assert session_rows(settings) == 0


async def test_cookie_sessions_change_things_through_the_api_only_from_our_origin(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings, tmp_path: Path
) -> None:
    await make_user(app, "ada")
    csrf = await browser_login(client, "ada")
    before = snapshot(tmp_path, settings.database_url)
    for headers in ({}, {"origin": "https://evil.example"}, {"x-csrf-token": "forged"}):
        refused = await client.post(
            "/api/v1/images", content=imagegen.jpeg_bytes(), headers=headers
        )
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "csrf-failed"
    assert snapshot(tmp_path, settings.database_url) == before
    assert (await client.get("/api/v1/me")).status_code == 200  # reads need neither
    for headers in (ORIGIN, {"x-csrf-token": csrf}):
        done = await client.post("/api/v1/images", content=imagegen.jpeg_bytes(), headers=headers)
        assert done.status_code == 201


async def test_registration_closed(settings: Settings, tmp_path: Path) -> None:
    closed = settings.model_copy(update={"registration": False})
    async with app_client(closed) as (_, client):
        page = await client.get("/register")
        assert "does not accept new accounts" in page.text
        before = snapshot(tmp_path, settings.database_url)
        response = await client.post(
            "/register",
            data={
                "csrf_token": form_token((await client.get("/login")).text),
                "username": "ada",
                "password": PASSWORD,
                "password_again": PASSWORD,
            },
        )
        assert response.status_code == 403
        assert snapshot(tmp_path, settings.database_url) == before


@pytest.mark.parametrize(
    ("username", "password", "again", "message"),
    [
        ("ab", PASSWORD, PASSWORD, "3 to 32 characters"),
        ("ada", "short", "short", "at least 8 characters"),
        ("ada", "x" * 1025, "x" * 1025, "at most 1024 characters"),
        ("ada", PASSWORD, PASSWORD + "!", "differ"),
    ],
)
async def test_register_refusals_change_nothing(
    client: httpx.AsyncClient,
    settings: Settings,
    tmp_path: Path,
    username: str,
    password: str,
    again: str,
    message: str,
) -> None:
    page = await client.get("/register")
    before = snapshot(tmp_path, settings.database_url)
    response = await client.post(
        "/register",
        data={
            "csrf_token": form_token(page.text),
            "username": username,
            "password": password,
            "password_again": again,
        },
    )
    assert response.status_code == 400
    assert message in response.text
    assert snapshot(tmp_path, settings.database_url) == before


async def test_a_taken_name_in_another_case_is_refused(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    await make_user(app, "Ada")
    page = await client.get("/register")
    response = await client.post(
        "/register",
        data={
            "csrf_token": form_token(page.text),
            "username": "aDA",
            "password": PASSWORD,
            "password_again": PASSWORD,
        },
    )
    assert response.status_code == 409
    assert "taken" in response.text


@pytest.mark.db_backends("sqlite")
async def test_https_public_url_gives_host_prefixed_secure_cookies(
    settings: Settings,
) -> None:
    https = settings.model_copy(update={"public_url": "https://pix.example"})
    async with app_client(https, base_url="https://pix.example") as (app, client):
        page = await client.get("/login")
        assert page.headers["set-cookie"].startswith("__Host-pixstash_csrf=")
        assert "Secure" in page.headers["set-cookie"]
        await make_user(app, "ada")
        response = await client.post(
            "/login",
            data={"csrf_token": form_token(page.text), "username": "ada", "password": PASSWORD},
        )
        cookie = response.headers["set-cookie"]
        assert cookie.startswith("__Host-pixstash_session=")
        assert "Secure" in cookie
        assert "Path=/" in cookie
        assert "Domain" not in cookie
        assert (await client.get("/api/v1/me")).json()["username"] == "ada"
        for origin, status in (("http://pix.example", 403), ("https://pix.example", 201)):
            response = await client.post(
                "/api/v1/me/tokens", json={"name": "x"}, headers={"origin": origin}
            )
            assert response.status_code == status


@contextlib.asynccontextmanager
async def app_client(
    settings: Settings, base_url: str = "http://testserver"
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """An app of its own on ``settings`` (the fixtures' app has the default ones)."""
    from pixstash.web.app import create_app

    application = create_app(settings)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
            yield application, client


async def test_the_runner_sweeps_expired_login_sessions(app: FastAPI, settings: Settings) -> None:
    """Sessions nobody uses again are not refused-and-deleted on use: a periodic task of
    the job runner (in the server and in `pixstash worker`) removes their rows."""
    container = container_of(app)
    await make_user(app, "ada")
    await container.accounts.login("ada", PASSWORD)
    sweeper = {name: task for name, _, task in container.make_runner(0).periodic}
    task = sweeper["web-session-sweeper"]
    assert await task() == 0  # still valid
    container.clock.advance(timedelta(seconds=settings.session_seconds + 1))
    assert await task() == 1
    with sync_engine(settings.database_url) as engine, engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM web_sessions")).scalar_one() == 0
