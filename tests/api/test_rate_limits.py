"""Rate limits on the API: anonymous uploads per client IP, uploads per user, requests per
token; 429 with Retry-After and X-RateLimit-*, decided before the body is read."""

from __future__ import annotations

import socket
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from pixstash.config import Settings
from pixstash.domain.accounts import Principal
from pixstash.web.auth import session_cookie_name
from pixstash.web.ratelimit import enforce_token_limit, rate_decision
from tests import imagegen
from tests.accounts import bearer, make_user
from tests.helpers import snapshot

pytestmark = pytest.mark.anyio

JPEG = imagegen.jpeg_bytes(64, 48)


@asynccontextmanager
async def serving(
    settings: Settings, peer: str = "127.0.0.1", **changes: Any
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The app with ``changes`` to the settings, and a client connecting from ``peer``."""
    from pixstash.web.app import create_app

    app = create_app(settings.model_copy(update=changes))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=(peer, 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield app, c


def assert_limit_headers(response: httpx.Response, limit: int, remaining: int) -> None:
    assert response.headers["x-ratelimit-limit"] == str(limit)
    assert response.headers["x-ratelimit-remaining"] == str(remaining)
    reset = int(response.headers["x-ratelimit-reset"])
    assert time.time() < reset <= time.time() + 3601  # epoch seconds, within the window


async def upload(client: httpx.AsyncClient, forwarded_for: str | None = None) -> httpx.Response:
    headers = {"x-forwarded-for": forwarded_for} if forwarded_for else {}
    return await client.post("/api/v1/images", content=JPEG, headers=headers)


async def test_anonymous_uploads_are_limited_per_ip_and_a_refusal_stores_nothing(
    settings: Settings, tmp_path: Path
) -> None:
    async with serving(settings, rate_limit_anonymous_uploads="2/hour") as (_, client):
        first, second = await upload(client), await upload(client)
        assert (first.status_code, second.status_code) == (201, 201)
        assert_limit_headers(first, 2, 1)
        assert_limit_headers(second, 2, 0)

        before = snapshot(tmp_path, settings.database_url)
        sent = 0

        async def body() -> AsyncIterator[bytes]:
            nonlocal sent
            for _ in range(100):
                sent += 65536
                yield b"\xff\xd8\xff" + b"\0" * 65533

        refused = await client.post("/api/v1/images", content=body())
        assert refused.status_code == 429
        assert refused.json()["error"]["code"] == "rate-limited"
        assert "your address" in refused.json()["error"]["message"]
        assert 3590 <= int(refused.headers["retry-after"]) <= 3600
        assert_limit_headers(refused, 2, 0)
        assert sent == 0  # decided before a byte of the body was read
        multipart = await client.post("/api/v1/images", files={"image": ("a.jpg", JPEG)})
        assert multipart.status_code == 429
        assert snapshot(tmp_path, settings.database_url) == before

        # reading is not limited, and answers carry no rate-limit headers
        info = await client.get(f"/api/v1/images/{first.json()['id']}")
        assert info.status_code == 200
        assert "x-ratelimit-limit" not in info.headers


async def test_another_address_has_its_own_count(settings: Settings) -> None:
    limited = {"rate_limit_anonymous_uploads": "1/hour"}
    async with serving(settings, peer="198.51.100.1", **limited) as (app, one):
        transport = httpx.ASGITransport(app=app, client=("198.51.100.2", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as two:
            assert (await upload(one)).status_code == 201
            assert (await upload(one)).status_code == 429
            assert (await upload(two)).status_code == 201


async def test_trusted_proxy_forwards_each_client_address(settings: Settings) -> None:
    async with serving(
        settings, rate_limit_anonymous_uploads="1/hour", trusted_proxies=["127.0.0.1"]
    ) as (_, client):
        assert (await upload(client, forwarded_for="203.0.113.1")).status_code == 201
        assert (await upload(client, forwarded_for="203.0.113.2")).status_code == 201
        # the client may prepend what it likes; nginx appended the address it saw
        spoofed = await upload(client, forwarded_for="198.51.100.99, 203.0.113.1")
        assert spoofed.status_code == 429
        assert (await upload(client, forwarded_for="2001:db8:1:2::1")).status_code == 201
        same_64 = await upload(client, forwarded_for="2001:db8:1:2:ffff::9")
        assert same_64.status_code == 429


async def test_forwarded_for_from_an_untrusted_peer_is_ignored(settings: Settings) -> None:
    async with serving(settings, rate_limit_anonymous_uploads="1/hour") as (_, client):
        assert (await upload(client, forwarded_for="203.0.113.1")).status_code == 201
        other = await upload(client, forwarded_for="203.0.113.2")
        assert other.status_code == 429  # the same peer, whatever the header says
    async with serving(
        settings,
        peer="198.51.100.7",
        rate_limit_anonymous_uploads="1/hour",
        trusted_proxies=["127.0.0.1"],
    ) as (_, client):
        assert (await upload(client, forwarded_for="203.0.113.1")).status_code == 201
        assert (await upload(client, forwarded_for="203.0.113.2")).status_code == 429


async def test_direct_uploads_count_at_start_not_at_complete(
    settings: Settings, tmp_path: Path
) -> None:
    async with serving(settings, rate_limit_anonymous_uploads="1/hour") as (_, client):
        payload = {"filename": "a.jpg", "content_type": "image/jpeg", "size": len(JPEG)}
        started = await client.post("/api/v1/uploads", json=payload)
        assert started.status_code == 201, started.text
        assert_limit_headers(started, 1, 0)
        ticket = started.json()

        before = snapshot(tmp_path, settings.database_url)
        again = await client.post("/api/v1/uploads", json=payload)
        assert again.status_code == 429
        assert again.json()["error"]["code"] == "rate-limited"
        assert snapshot(tmp_path, settings.database_url) == before

        sent = await client.post(
            ticket["url"], data=ticket["fields"], files={"file": ("a.jpg", JPEG, "image/jpeg")}
        )
        assert sent.status_code == 204, sent.text
        done = await client.post(f"/api/v1/uploads/{ticket['upload_id']}/complete")
        assert done.status_code == 201, done.text


async def test_a_users_uploads_count_per_user_not_per_address(settings: Settings) -> None:
    async with serving(
        settings, rate_limit_user_uploads="1/hour", rate_limit_anonymous_uploads="1/hour"
    ) as (app, client):
        ada = await make_user(app, "ada")
        laptop, phone = await bearer(app, ada, "laptop"), await bearer(app, ada, "phone")
        mine = await client.post("/api/v1/images", content=JPEG, headers=laptop)
        assert mine.status_code == 201, mine.text
        refused = await client.post("/api/v1/images", content=JPEG, headers=phone)
        assert refused.status_code == 429  # another token, the same user
        assert "your account" in refused.json()["error"]["message"]
        assert (await upload(client)).status_code == 201  # anonymous: the address's own count
        bob = await make_user(app, "bob")
        theirs = await client.post("/api/v1/images", content=JPEG, headers=await bearer(app, bob))
        assert theirs.status_code == 201


async def test_every_request_with_a_token_counts(settings: Settings, tmp_path: Path) -> None:
    async with serving(settings, rate_limit_token_requests="3/hour") as (app, client):
        ada = await make_user(app, "ada")
        token = await bearer(app, ada)
        me = await client.get("/api/v1/me", headers=token)
        assert me.status_code == 200
        assert_limit_headers(me, 3, 2)
        # an upload meets two limits: the headers show the tighter one
        uploaded = await client.post("/api/v1/images", content=JPEG, headers=token)
        assert uploaded.status_code == 201
        assert_limit_headers(uploaded, 3, 1)
        assert (await client.get("/api/v1/me", headers=token)).status_code == 200

        before = snapshot(tmp_path, settings.database_url)
        refused = await client.post("/api/v1/images", content=JPEG, headers=token)
        assert refused.status_code == 429
        assert "API token" in refused.json()["error"]["message"]
        assert_limit_headers(refused, 3, 0)
        assert int(refused.headers["retry-after"]) > 0
        assert snapshot(tmp_path, settings.database_url) == before

        other_token = await bearer(app, ada, "other")
        assert (await client.get("/api/v1/me", headers=other_token)).status_code == 200
        assert (await upload(client)).status_code == 201  # anonymous requests do not count


async def test_token_limit_dependency_with_a_fabricated_principal(settings: Settings) -> None:
    """``enforce_token_limit`` alone: counts token principals, ignores sessions."""
    async with serving(settings, rate_limit_token_requests="1/hour") as (app, _):
        from starlette.requests import Request

        def request() -> Request:
            return Request({"type": "http", "app": app, "headers": [], "path": "/api/v1/me"})

        session_user = Principal(7, "ada", is_admin=False, token_id=None)
        token_user = Principal(7, "ada", is_admin=False, token_id=42)
        for _ in range(3):
            assert await enforce_token_limit(request(), session_user) is None
            assert await enforce_token_limit(request(), None) is None
        first = request()
        decision = await enforce_token_limit(first, token_user)
        assert decision is not None
        assert (decision.allowed, decision.remaining) == (True, 0)
        assert rate_decision(first) == decision
        from pixstash.errors import RateLimited

        with pytest.raises(RateLimited) as refused:
            await enforce_token_limit(request(), token_user)
        assert refused.value.retry_after is not None
        assert refused.value.retry_after > 0


async def test_a_limit_left_empty_is_off(settings: Settings) -> None:
    async with serving(settings, rate_limit_anonymous_uploads="") as (_, client):
        for _ in range(3):
            response = await upload(client)
            assert response.status_code == 201
            assert "x-ratelimit-limit" not in response.headers


@pytest.fixture
def closed_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


async def test_redis_down_refuse_answers_503_and_stores_nothing(
    settings: Settings, tmp_path: Path, closed_port: int
) -> None:
    async with serving(
        settings,
        cache_url=f"redis://127.0.0.1:{closed_port}/0",
        rate_limit_on_outage="refuse",
    ) as (_, client):
        before = snapshot(tmp_path, settings.database_url)
        response = await upload(client)
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "backend-unavailable"
        assert "retry-after" in response.headers
        assert snapshot(tmp_path, settings.database_url) == before


async def test_redis_down_allow_uploads_without_limits(
    settings: Settings, closed_port: int
) -> None:
    async with serving(
        settings,
        cache_url=f"redis://127.0.0.1:{closed_port}/0",
        rate_limit_anonymous_uploads="1/hour",
    ) as (_, client):
        for _ in range(2):
            response = await upload(client)
            assert response.status_code == 201, response.text
            assert "x-ratelimit-limit" not in response.headers


async def test_each_file_of_a_multipart_upload_counts(settings: Settings, tmp_path: Path) -> None:
    """A request with several files costs one per file: 50/hour means 50 images, not 50
    requests of 20. The extra files are charged after the body is parsed and before
    anything is stored, so a refused request leaves nothing (but, like any refused
    upload, costs the one file counted before its body was read)."""
    files = [("image", (f"{i}.jpg", imagegen.jpeg_bytes(64, 48, seed=i))) for i in range(3)]
    async with serving(settings, rate_limit_anonymous_uploads="4/hour") as (_, client):
        three = await client.post("/api/v1/images", files=files)
        assert three.status_code == 201, three.text
        assert len(three.json()["images"]) == 3
        assert_limit_headers(three, 4, 1)
        before = snapshot(tmp_path, settings.database_url)
        refused = await client.post("/api/v1/images", files=files[:2])  # 1 left, 2 sent
        assert refused.status_code == 429
        assert refused.json()["error"]["code"] == "rate-limited"
        assert snapshot(tmp_path, settings.database_url) == before
        assert_limit_headers(refused, 4, 0)  # its first file was counted before the body
        one = await client.post("/api/v1/images", files=files[:1])
        assert one.status_code == 429


async def test_log_in_attempts_are_limited_per_ip(settings: Settings, tmp_path: Path) -> None:
    """Password guessing: after the limit, the log-in form answers 429 with Retry-After
    without checking the password (a right one included)."""
    from tests.accounts import PASSWORD, form_token

    async with serving(settings, rate_limit_logins="3/hour") as (app, client):
        await make_user(app, "ada")
        for _ in range(3):
            page = await client.get("/login")
            wrong = {"csrf_token": form_token(page.text), "username": "ada", "password": "nope"}
            assert (await client.post("/login", data=wrong)).status_code == 401
        page = await client.get("/login")
        right = {"csrf_token": form_token(page.text), "username": "ada", "password": PASSWORD}
        before = snapshot(tmp_path, settings.database_url)
        refused = await client.post("/login", data=right)
        assert refused.status_code == 429
        assert "Too many log-in attempts" in refused.text
        assert 3590 <= int(refused.headers["retry-after"]) <= 3600
        assert session_cookie_name(settings) not in client.cookies  # nobody logged in
        assert snapshot(tmp_path, settings.database_url) == before  # no session row
