"""CORS on the API: off by default; configured origins only; no credentials."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from pixstash.config import Settings
from tests import imagegen
from tests.helpers import container_of, drain_jobs

pytestmark = pytest.mark.anyio

APP_ORIGIN = "https://app.example"
PREFLIGHT = {
    "origin": APP_ORIGIN,
    "access-control-request-method": "POST",
    "access-control-request-headers": "authorization, content-type",
}


@asynccontextmanager
async def serving(
    settings: Settings, **changes: Any
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    from pixstash.web.app import create_app

    app = create_app(settings.model_copy(update=changes))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield app, c


async def test_preflight_from_an_allowed_origin(settings: Settings) -> None:
    async with serving(settings, cors_origins=[APP_ORIGIN, "http://localhost:3000"]) as (_, client):
        response = await client.options("/api/v1/images", headers=PREFLIGHT)
        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == APP_ORIGIN
        assert "POST" in response.headers["access-control-allow-methods"]
        allowed = response.headers["access-control-allow-headers"].lower()
        assert "authorization" in allowed
        assert "content-type" in allowed
        assert "access-control-allow-credentials" not in response.headers


async def test_preflight_from_another_origin_is_denied(settings: Settings) -> None:
    async with serving(settings, cors_origins=[APP_ORIGIN]) as (_, client):
        for origin in ("https://evil.example", "https://app.example.evil.example", "null"):
            response = await client.options(
                "/api/v1/images", headers={**PREFLIGHT, "origin": origin}
            )
            assert response.status_code == 400
            assert "access-control-allow-origin" not in response.headers


async def test_answers_expose_rate_limit_headers_and_location(settings: Settings) -> None:
    async with serving(
        settings, cors_origins=[APP_ORIGIN], rate_limit_anonymous_uploads="1/hour"
    ) as (_, client):
        data = imagegen.jpeg_bytes(64, 48)
        headers = {"origin": APP_ORIGIN}
        created = await client.post("/api/v1/images", content=data, headers=headers)
        assert created.status_code == 201
        assert created.headers["access-control-allow-origin"] == APP_ORIGIN
        exposed = {
            h.strip().lower() for h in created.headers["access-control-expose-headers"].split(",")
        }
        assert {
            "location",
            "retry-after",
            "x-ratelimit-limit",
            "x-ratelimit-remaining",
            "x-ratelimit-reset",
        } <= exposed
        refused = await client.post("/api/v1/images", content=data, headers=headers)
        assert refused.status_code == 429
        assert refused.headers["access-control-allow-origin"] == APP_ORIGIN  # JS can read it


async def test_cors_is_off_by_default(settings: Settings, client: httpx.AsyncClient) -> None:
    response = await client.options("/api/v1/images", headers=PREFLIGHT)
    assert "access-control-allow-origin" not in response.headers
    info = await client.get("/api/v1/images/nothere", headers={"origin": APP_ORIGIN})
    assert "access-control-allow-origin" not in info.headers


async def test_pages_and_media_get_no_cors_headers(settings: Settings) -> None:
    async with serving(settings, cors_origins=["*"]) as (app, client):
        api = await client.get("/api/v1/images/nothere", headers={"origin": APP_ORIGIN})
        assert api.headers["access-control-allow-origin"] == "*"
        page = await client.get("/", headers={"origin": APP_ORIGIN})
        assert "access-control-allow-origin" not in page.headers

        created = await client.post("/api/v1/images", content=imagegen.jpeg_bytes(64, 48))
        await drain_jobs(container_of(app))
        thumb = f"/{created.json()['id']}t.jpg"
        for _ in range(2):  # a miss through the stack, then a hit from the fast path
            media = await client.get(thumb, headers={"origin": APP_ORIGIN})
            assert media.status_code == 200
            assert "access-control-allow-origin" not in media.headers
            assert media.headers["cross-origin-resource-policy"] == "cross-origin"
