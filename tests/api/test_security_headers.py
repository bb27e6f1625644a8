"""Security headers: every page of the app, every kind of API answer, HSTS, and the media
origin that never shares the app's cookies (web/security_headers.py, pages/render.py,
web/auth.py)."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from pixstash.config import Settings
from pixstash.web import app as web_app
from tests import imagegen
from tests.accounts import ORIGIN, browser_login, make_user

pytestmark = [pytest.mark.anyio, pytest.mark.db_backends("sqlite")]

TEMPLATES = Path(web_app.__file__).parent / "templates"
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
INLINE_HANDLER = re.compile(r"\son[a-z]+\s*=", re.IGNORECASE)
INLINE_STYLE = re.compile(r"<style|\sstyle\s*=", re.IGNORECASE)

# (path, who looks, expected status); {image}, {album}, {token} are filled in per test
PAGES = [
    ("/", "anonymous", 200),
    ("/recent", "anonymous", 200),
    ("/{image}", "anonymous", 200),
    ("/a/{album}", "anonymous", 200),
    ("/{image}/delete/{token}", "anonymous", 200),
    ("/login", "anonymous", 200),
    ("/register", "anonymous", 200),
    ("/me", "user", 200),
    ("/me/tokens", "user", 200),
    ("/ZZZZZZZ", "anonymous", 404),  # error page: no such image
    ("/a/ZZZZZZZ", "anonymous", 404),
    ("/no/such/page", "anonymous", 404),
]
# (method, path, expected status): JSON answers of both APIs, errors included
API = [
    ("GET", "/api/v1/images/{image}", 200),
    ("GET", "/api/v1/recent", 200),
    ("GET", "/api/v1/images/ZZZZZZZ", 404),
    ("POST", "/api/v1/images", 400),
    ("GET", "/api/v1/me", 401),
    ("GET", "/3/image/{image}", 200),
    ("GET", "/3/image/ZZZZZZZ", 404),
    ("GET", "/3/credits", 200),
    ("GET", "/oembed?url=http://testserver/{image}", 200),
    ("GET", "/healthz", 200),
]


def csp(response: httpx.Response) -> dict[str, list[str]]:
    """The Content-Security-Policy as {directive: sources}."""
    policy: dict[str, list[str]] = {}
    for directive in response.headers["content-security-policy"].split(";"):
        name, *sources = directive.split()
        policy[name] = sources
    return policy


@pytest.fixture
async def shared(client: httpx.AsyncClient) -> dict[str, str]:
    """An anonymous image (with its delete token) and an album holding it."""
    created = await client.post("/api/v1/images", content=imagegen.jpeg_bytes(64, 48))
    assert created.status_code == 201, created.text
    image = created.json()
    album = await client.post(
        "/api/v1/albums", json={"ids": [image["id"]], "deletehashes": [image["delete_token"]]}
    )
    assert album.status_code == 201, album.text
    return {"image": image["id"], "token": image["delete_token"], "album": album.json()["id"]}


@pytest.mark.parametrize(("path", "who", "status"), PAGES)
async def test_every_page_carries_the_security_headers(
    client: httpx.AsyncClient,
    app: FastAPI,
    shared: dict[str, str],
    path: str,
    who: str,
    status: int,
) -> None:
    if who == "user":
        await make_user(app, "ada")
        await browser_login(client, "ada")
    page = await client.get(path.format(**shared), headers={"accept": "text/html"})
    assert page.status_code == status, page.text
    assert page.headers["content-type"].startswith("text/html")
    policy = csp(page)
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]  # no 'unsafe-inline', no 'unsafe-eval'
    assert policy["style-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["form-action"] == ["'self'"]
    assert "unsafe" not in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "strict-origin-when-cross-origin"
    assert page.headers["x-frame-options"] == "DENY"
    assert "strict-transport-security" not in page.headers  # plain http: never
    # what the CSP forbids is not on the page either (it would be broken, not just unsafe)
    assert INLINE_SCRIPT.search(page.text) is None
    assert INLINE_HANDLER.search(page.text) is None
    assert INLINE_STYLE.search(page.text) is None


@pytest.mark.parametrize("template", sorted(p.name for p in TEMPLATES.glob("*.html")))
def test_templates_hold_no_inline_script_or_style(template: str) -> None:
    text = (TEMPLATES / template).read_text()
    assert INLINE_SCRIPT.search(text) is None
    assert INLINE_HANDLER.search(text) is None
    assert INLINE_STYLE.search(text) is None
    assert "javascript:" not in text.lower()


@pytest.mark.parametrize(("method", "path", "status"), API)
async def test_api_answers_are_nosniff_and_run_nothing(
    client: httpx.AsyncClient, shared: dict[str, str], method: str, path: str, status: int
) -> None:
    imgur = {"authorization": "Client-ID 0123456789abcde"}  # the Imgur API's anonymous
    headers = imgur if path.startswith("/3/") else {}
    response = await client.request(method, path.format(**shared), headers=headers)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert csp(response) == {"default-src": ["'none'"], "frame-ancestors": ["'none'"]}
    assert "strict-transport-security" not in response.headers


@contextlib.asynccontextmanager
async def app_client(
    settings: Settings, base_url: str = "http://testserver"
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """An app of its own on ``settings``."""
    application = web_app.create_app(settings)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
            yield application, client


async def test_hsts_is_sent_when_configured_for_tls(settings: Settings) -> None:
    https = settings.model_copy(
        update={"public_url": "https://pix.example", "hsts_seconds": 63072000}
    )
    async with app_client(https, base_url="https://pix.example") as (_, client):
        for path in ("/", "/login", "/api/v1/recent", "/3/credits", "/ZZZZZZZ"):
            response = await client.get(path, headers={"accept": "text/html"})
            assert response.status_code in (200, 401, 404), path
            assert response.headers["strict-transport-security"] == "max-age=63072000", path


@pytest.mark.parametrize("public_url", [None, "http://pix.example"])
def test_hsts_is_refused_without_an_https_public_url(
    settings: Settings, public_url: str | None
) -> None:
    values = settings.model_dump()
    values.update(public_url=public_url, hsts_seconds=3600)
    with pytest.raises(ValueError, match="PIXSTASH_HSTS_SECONDS needs"):
        Settings(**values)


@pytest.mark.parametrize(
    ("public_url", "cookie_name", "secure"),
    [
        (None, "pixstash_session", False),
        ("https://pix.example", "__Host-pixstash_session", True),
    ],
)
async def test_the_session_cookie_is_host_only(
    settings: Settings, public_url: str | None, cookie_name: str, secure: bool
) -> None:
    """No Domain attribute: a media origin on a sibling subdomain never receives it."""
    configured = settings.model_copy(
        update={"public_url": public_url, "public_media_url": "https://media.pix.example"}
    )
    async with app_client(configured, base_url=public_url or "http://testserver") as (app, client):
        await make_user(app, "ada")
        await browser_login(client, "ada")
        login = [c for c in client.cookies.jar if c.name == cookie_name]
        assert len(login) == 1
        cookie = login[0]
        assert not cookie.domain_specified
        assert cookie.path == "/"
        assert cookie.secure is secure
        assert cookie.has_nonstandard_attr("HttpOnly")


async def test_media_links_and_the_page_csp_use_the_media_origin(settings: Settings) -> None:
    media_origin = "https://media.pix.example"
    configured = settings.model_copy(update={"public_media_url": media_origin})
    async with app_client(configured) as (_, client):
        created = await client.post("/api/v1/images", content=imagegen.jpeg_bytes(64, 48))
        image = created.json()
        for name in ("full", "thumb", "medium", "large"):
            assert image["links"][name].startswith(f"{media_origin}/"), name
        assert image["links"]["page"].startswith("http://testserver/")
        page = await client.get(f"/{image['id']}")
        assert f'src="{image["links"]["large"]}"' in page.text
        policy = csp(page)
        assert media_origin in policy["img-src"]
        assert media_origin in policy["media-src"]
        assert media_origin not in policy["script-src"]
        assert media_origin not in policy["connect-src"]


async def test_media_answers_never_set_cookies(client: httpx.AsyncClient, app: FastAPI) -> None:
    """Media may be served from the app's own origin too (no media origin configured):
    even to a logged-in browser, no media answer sets or refreshes a cookie."""
    await make_user(app, "ada")
    await browser_login(client, "ada")
    created = await client.post(
        "/api/v1/images", content=imagegen.jpeg_bytes(64, 48), headers=ORIGIN
    )
    assert created.status_code == 201, created.text
    image = created.json()
    name = image["links"]["thumb"].rsplit("/", 1)[1]
    for _ in range(2):  # a miss through FastAPI, then a hit from the in-memory cache
        media = await client.get(f"/{name}")
        assert media.status_code == 200
        assert "set-cookie" not in media.headers
        assert media.headers["x-content-type-options"] == "nosniff"
        assert csp(media)["default-src"] == ["'none'"]
    ranged = await client.get(f"/{name}", headers={"range": "bytes=0-9"})
    assert ranged.status_code == 206
    assert "set-cookie" not in ranged.headers
