"""Helpers for tests with accounts: users, bearer tokens, browser logins, form tokens."""

from __future__ import annotations

import re

import httpx
from fastapi import FastAPI

from pixstash.domain.accounts import User
from tests.helpers import container_of

PASSWORD = "correct horse battery"
ORIGIN = {"origin": "http://testserver"}  # what a browser sends from our own pages
_CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]*)"')


async def make_user(app: FastAPI, username: str, *, admin: bool = False) -> User:
    return await container_of(app).accounts.register(
        username, PASSWORD, is_admin=admin, operator=True
    )


async def bearer(app: FastAPI, user: User, name: str = "test") -> dict[str, str]:
    created = await container_of(app).accounts.create_token(user.id, name)
    return {"authorization": f"Bearer {created.token}"}


def form_token(html: str) -> str:
    """The CSRF token of the first form on a page."""
    found = _CSRF_INPUT.search(html)
    assert found is not None, "no csrf_token field on the page"
    return found.group(1)


async def browser_login(client: httpx.AsyncClient, username: str) -> str:
    """Log ``client`` in through the login page; returns the session's form token."""
    page = await client.get("/login")
    response = await client.post(
        "/login",
        data={"csrf_token": form_token(page.text), "username": username, "password": PASSWORD},
    )
    assert response.status_code == 303, response.text
    me = await client.get("/me")
    assert me.status_code == 200
    return form_token(me.text)
