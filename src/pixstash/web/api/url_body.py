"""Reading an upload-by-link request: JSON ``{"url", "title", "description"}`` or a
form-urlencoded body with a ``url`` field (a multipart ``url`` field is read with the
multipart body, in upload_body.py). Small bodies only: a link is not a file."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import parse_qs

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from python_multipart.multipart import parse_options_header

from pixstash.errors import BadRequest

MAX_LINK_BODY = 16 * 1024
_JSON = b"application/json"
_FORM = b"application/x-www-form-urlencoded"


class LinkUpload(BaseModel):
    model_config = ConfigDict(extra="ignore")

    url: str = Field(
        description="http(s) link to the image; fetched by the server, which refuses "
        "private and local addresses",
        examples=["https://upload.wikimedia.org/wikipedia/commons/a/a9/Example.jpg"],
    )
    title: str | None = Field(None, max_length=MAX_LINK_BODY)
    description: str | None = Field(None, max_length=MAX_LINK_BODY)
    visibility: str | None = Field(
        None, max_length=16, description="public, unlisted (default) or private (accounts only)"
    )
    expires_in: str | None = Field(
        None, max_length=16, description="1h, 1d, 7d or 30d; left out: never expires"
    )


def is_link_body(content_type: str) -> bool:
    mime, _ = parse_options_header(content_type)
    return mime in (_JSON, _FORM)


async def read_link_body(content_type: str, stream: AsyncIterator[bytes]) -> LinkUpload:
    """The link of a JSON or form-urlencoded body (see ``is_link_body``)."""
    mime, _ = parse_options_header(content_type)
    raw = bytearray()
    async for chunk in stream:
        raw += chunk
        if len(raw) > MAX_LINK_BODY:
            raise BadRequest(f"A link request is at most {MAX_LINK_BODY} bytes.")
    if mime == _JSON:
        try:
            return LinkUpload.model_validate_json(bytes(raw))
        except ValidationError as exc:
            raise BadRequest(
                'Send JSON like {"url": "https://example.com/cat.jpg", "title": "Cat"}; '
                "the url is required."
            ) from exc
    fields = parse_qs(raw.decode("utf-8", "replace"))
    if "url" not in fields:
        raise BadRequest(
            "Send the image as multipart/form-data or as the raw request body, or a link as "
            "the field 'url'; base64 form uploads are served by the Imgur-compatible API."
        )
    return LinkUpload(
        url=fields["url"][-1],
        title=fields.get("title", [None])[-1],
        description=fields.get("description", [None])[-1],
        visibility=fields.get("visibility", [None])[-1],
        expires_in=fields.get("expires_in", [None])[-1],
    )
