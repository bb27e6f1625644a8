"""Imgur's rate-limit headers and ``/3/credits``, from pixstash's limiter."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from pixstash.config import Settings
from tests import imagegen
from tests.accounts import bearer, make_user
from tests.api.imgur.conftest import CLIENT, data_of, error_of

pytestmark = pytest.mark.anyio

PNG = imagegen.png_alpha_bytes(20, 20)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "rate_limit_client_id_requests": "6/day",
            "rate_limit_ip_requests": "5/hour",
            "rate_limit_anonymous_uploads": "2/hour",
            "rate_limit_token_requests": "9/hour",
        }
    )


def numbers(response: httpx.Response, *names: str) -> list[int]:
    return [int(response.headers[f"x-ratelimit-{name}"]) for name in names]


async def test_headers_count_down_and_credits_agree(client: httpx.AsyncClient) -> None:
    first = await client.get("/3/credits", headers=CLIENT)
    assert numbers(first, "clientlimit", "clientremaining", "userlimit", "userremaining") == [
        6,
        5,
        5,
        4,
    ]
    reset = int(first.headers["x-ratelimit-userreset"])
    assert time.time() < reset <= time.time() + 3600 + 1
    assert "x-post-rate-limit-limit" not in first.headers  # uploads only
    credits = data_of(first)
    assert credits == {
        "UserLimit": 5,
        "UserRemaining": 4,
        "UserReset": reset,
        "ClientLimit": 6,
        "ClientRemaining": 5,
    }

    uploaded = await client.post("/3/image", headers=CLIENT, files={"image": ("a.png", PNG)})
    data_of(uploaded)
    assert numbers(uploaded, "clientremaining", "userremaining") == [4, 3]
    post = [int(uploaded.headers[f"x-post-rate-limit-{n}"]) for n in ("limit", "remaining")]
    assert post == [2, 1]
    assert 0 < int(uploaded.headers["x-post-rate-limit-reset"]) <= 3601  # ceil

    # another Client-ID from the same address: its own client credits, the same user ones
    other = await client.get("/3/credits", headers={"authorization": "Client-ID other"})
    assert numbers(other, "clientremaining", "userremaining") == [5, 2]


async def test_over_the_limit_is_429_in_imgurs_envelope(client: httpx.AsyncClient) -> None:
    for _ in range(5):
        data_of(await client.get("/3/credits", headers=CLIENT))
    refused = await client.get("/3/credits", headers=CLIENT)
    error = error_of(refused, 429, "/3/credits", "GET")
    assert error["code"] == "rate-limited"
    assert int(refused.headers["retry-after"]) >= 1
    assert numbers(refused, "userlimit", "userremaining") == [5, 0]


async def test_uploads_over_the_post_limit_are_refused(client: httpx.AsyncClient) -> None:
    for _ in range(2):
        data_of(await client.post("/3/image", headers=CLIENT, files={"image": ("a.png", PNG)}))
    refused = await client.post("/3/image", headers=CLIENT, files={"image": ("a.png", PNG)})
    error_of(refused, 429, "/3/image", "POST")
    assert refused.headers["x-post-rate-limit-remaining"] == "0"


async def test_bearer_requests_count_against_the_token(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    auth = await bearer(app, await make_user(app, "ada"))
    response = await client.get("/3/credits", headers=auth)
    assert numbers(response, "clientlimit", "clientremaining", "userlimit", "userremaining") == [
        9,
        8,
        9,
        8,
    ]


@pytest.fixture
async def unlimited(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    from pixstash.web.app import create_app

    app = create_app(
        settings.model_copy(
            update={"rate_limit_client_id_requests": "", "rate_limit_ip_requests": ""}
        )
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


async def test_no_limit_no_header(unlimited: httpx.AsyncClient) -> None:
    response = await unlimited.get("/3/credits", headers=CLIENT)
    assert not any(name.startswith("x-ratelimit-client") for name in response.headers)
    assert data_of(response)["ClientLimit"] is None
