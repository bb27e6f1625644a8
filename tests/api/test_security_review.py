"""Regression tests from a security review: each one failed before its fix."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import anyio
import httpx
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI

from pixstash.errors import InvalidCredentials
from pixstash.services.accounts import PASSWORD_HASHES_AT_ONCE
from tests.accounts import ORIGIN, bearer, browser_login, make_user
from tests.api.test_visibility import upload
from tests.helpers import container_of

pytestmark = pytest.mark.anyio


async def _token_names(client: httpx.AsyncClient) -> list[str]:
    listed = (await client.get("/api/v1/me/tokens")).json()["tokens"]
    return [token["name"] for token in listed]


async def test_no_sharex_token_is_made_by_another_site_through_the_session_cookie(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    """The ShareX config is a GET that mints a token. SameSite=Lax cookies ride along on
    a top-level navigation from any site (and on same-site requests from a sibling
    subdomain), so a page elsewhere could make a logged-in visitor mint tokens."""
    ada = await make_user(app, "ada")
    await browser_login(client, "ada")
    for site in ("cross-site", "same-site"):
        refused = await client.get("/api/v1/sharex.sxcu", headers={"sec-fetch-site": site})
        assert refused.status_code == 403, site
        assert refused.json()["error"]["code"] == "csrf-failed"
    assert await _token_names(client) == []
    for site in ("same-origin", "none"):  # a link on our pages; typed in the address bar
        done = await client.get("/api/v1/sharex.sxcu", headers={"sec-fetch-site": site})
        assert done.status_code == 200, site
    assert (await client.get("/api/v1/sharex.sxcu")).status_code == 200  # older browsers
    assert await _token_names(client) == ["ShareX"] * 3
    # a bearer token is no ambient credential, but it may not mint tokens either
    client.cookies.clear()
    auth = {**await bearer(app, ada), "sec-fetch-site": "cross-site"}
    refused = await client.get("/api/v1/sharex.sxcu", headers=auth)
    assert refused.json()["error"]["code"] == "session-required"


async def test_my_images_leave_out_expired_images(client: httpx.AsyncClient, app: FastAPI) -> None:
    """An expired image is gone from every URL at once, "My images" included (the API
    and the page), not only once the sweeper has run."""
    await make_user(app, "ada")
    await browser_login(client, "ada")
    short = await upload(client, ORIGIN, expires_in="1h")
    kept = await upload(client, ORIGIN)
    container_of(app).clock.advance(timedelta(hours=1))
    listed = (await client.get("/api/v1/me/images")).json()
    assert [image["id"] for image in listed["images"]] == [kept["id"]]
    page = await client.get("/me")
    assert kept["id"] in page.text
    assert short["id"] not in page.text


async def test_an_album_tells_others_nothing_of_the_private_images_in_it(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    """Others get neither the id of a private cover nor a count of the images hidden
    from them (the Imgur API's album answer already left both out)."""
    auth = await bearer(app, await make_user(app, "ada"))
    private = await upload(client, auth, visibility="private")
    public = await upload(client, auth, visibility="public")
    created = await client.post(
        "/api/v1/albums",
        json={"ids": [private["id"], public["id"]], "cover": private["id"], "visibility": "public"},
        headers=auth,
    )
    album_id = created.json()["id"]
    mine = (await client.get(f"/api/v1/albums/{album_id}", headers=auth)).json()
    assert (mine["cover"], mine["image_count"]) == (private["id"], 2)
    theirs = (await client.get(f"/api/v1/albums/{album_id}")).json()
    assert [image["id"] for image in theirs["images"]] == [public["id"]]
    assert theirs["cover"] is None
    assert theirs["image_count"] == 1
    assert private["id"] not in (await client.get(f"/api/v1/albums/{album_id}")).text


class _ConcurrencyHasher(PasswordHasher):
    """Cheap parameters; records how many hashes run at once (each takes a while)."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=1024, parallelism=1)
        self._lock = threading.Lock()
        self.running = 0
        self.most = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        with self._lock:
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            time.sleep(0.02)
            return super().verify(hash, password)
        finally:
            with self._lock:
                self.running -= 1


async def test_password_hashes_run_a_few_at_a_time(app: FastAPI) -> None:
    """Each argon2id hash holds 64 MiB for a while; a flood of login attempts (no
    account needed) must not run dozens at once on the thread pool (40 by default)."""
    accounts = container_of(app).accounts
    await make_user(app, "ada")
    hasher = _ConcurrencyHasher()
    accounts.hasher = hasher

    async def attempt(number: int) -> None:
        with pytest.raises(InvalidCredentials):
            await accounts.authenticate("ada" if number % 2 else f"nobody{number}", "wrong!!!!!")

    async with anyio.create_task_group() as group:
        for number in range(24):
            group.start_soon(attempt, number)
    assert 1 <= hasher.most <= PASSWORD_HASHES_AT_ONCE
