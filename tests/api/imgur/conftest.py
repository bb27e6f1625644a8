"""Helpers of the Imgur-compatibility suite: request shapes as Imgur's API documents
them (``Authorization: Client-ID``, the ``{"data", "success", "status"}`` envelope)."""

from __future__ import annotations

from typing import Any

import httpx

CLIENT = {"authorization": "Client-ID 3f2a9c1e7b5d4a0"}  # like a tool's built-in one


def data_of(response: httpx.Response, status: int = 200) -> Any:
    """The ``data`` of a successful envelope, checking the envelope on the way."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is True
    assert body["status"] == status
    return body["data"]


def error_of(response: httpx.Response, status: int, path: str, method: str) -> dict[str, Any]:
    """Imgur's error envelope, with the request path and method it names."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is False
    assert body["status"] == status
    assert body["data"]["request"] == path
    assert body["data"]["method"] == method
    assert isinstance(body["data"]["error"], str)
    assert body["data"]["error"]
    error: dict[str, Any] = body["data"]
    return error


async def upload(
    client: httpx.AsyncClient,
    image: bytes,
    headers: dict[str, str] | None = None,
    **fields: str,
) -> dict[str, Any]:
    """A multipart file upload, as ShareX sends it."""
    response = await client.post(
        "/3/image",
        headers=headers or CLIENT,
        files={"image": ("shot.png", image, "image/png")},
        data=fields,
    )
    result: dict[str, Any] = data_of(response)
    return result
