"""The OpenAPI document and /docs: every operation is summarised and shows an example
of its successful answer (the Imgur-compatible /3/ routes included)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

pytestmark = [pytest.mark.anyio, pytest.mark.db_backends("sqlite")]

METHODS = ("get", "put", "post", "delete", "patch", "head")


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = document["components"]["schemas"][name]
    return schema


def has_example(document: dict[str, Any], response: dict[str, Any]) -> bool:
    """No body (204, a redirect) or a binary one needs none; JSON needs an example of the
    media type, of its schema, or of the schema's fields."""
    content = response.get("content")
    if not content or not any("json" in media_type for media_type in content):
        return True  # no body, or bytes (a zip, an image): an example shows nothing
    for media in content.values():
        if "example" in media or "examples" in media:
            return True
        schema = resolve(document, media.get("schema", {}))
        for candidate in (schema, *schema.get("anyOf", ()), *schema.get("oneOf", ())):
            candidate = resolve(document, candidate)
            if "example" in candidate or "examples" in candidate:
                return True
            if _fields_have_examples(document, candidate, depth=2):
                return True
    return False


def _fields_have_examples(document: dict[str, Any], schema: dict[str, Any], depth: int) -> bool:
    """Some field has an example; a list's items are looked into (``{"images": [...]}``)."""
    schema = resolve(document, schema)
    if "items" in schema:
        schema = resolve(document, schema["items"])
    if "example" in schema or "examples" in schema:
        return True
    if depth == 0:
        return False
    return any(
        _fields_have_examples(document, field, depth - 1)
        for field in schema.get("properties", {}).values()
    )


async def test_every_operation_has_a_summary_and_an_example(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    missing: list[str] = []
    for path, item in document["paths"].items():
        for method in METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            name = f"{method.upper()} {path}"
            if not operation.get("summary"):
                missing.append(f"{name}: no summary")
            answers = [r for code, r in operation["responses"].items() if code.startswith("2")]
            if not answers:
                missing.append(f"{name}: no 2xx response")
            elif not any(has_example(document, r) for r in answers):
                missing.append(f"{name}: no example of its 2xx answer")
    assert missing == []


async def test_the_imgur_api_is_documented_with_imgur_shapes(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    upload = document["paths"]["/3/image"]["post"]
    example = upload["responses"]["200"]["content"]["application/json"]["example"]
    assert set(example) == {"data", "success", "status"}
    assert {"id", "link", "deletehash", "datetime"} <= set(example["data"])
    assert "multipart/form-data" in upload["requestBody"]["content"]
    assert "application/x-www-form-urlencoded" in upload["requestBody"]["content"]
    for path in ("/3/upload", "/3/image/{image_ref}", "/3/album", "/3/album/{album_id}",
                 "/3/album/{album_id}/images", "/3/album/{album_ref}/add",
                 "/3/album/{album_ref}", "/3/credits"):  # fmt: skip
        assert path in document["paths"], path


async def test_docs_page_works(client: httpx.AsyncClient) -> None:
    response = await client.get("/docs")
    assert response.status_code == 200
    assert "swagger-ui" in response.text
    assert "/openapi.json" in response.text
