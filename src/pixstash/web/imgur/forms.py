"""Small request bodies of the Imgur API (updates, albums): form-urlencoded, multipart
text fields or a JSON object, at most ``MAX_FORM_BYTES``. Uploads stream instead
(``upload_form``)."""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from urllib.parse import parse_qsl

from python_multipart import parse_form
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import parse_options_header
from starlette.requests import Request

from pixstash.errors import BadRequest, FileTooLarge

MAX_FORM_BYTES = 64 * 1024
Fields = list[tuple[str, str]]


async def read_fields(request: Request) -> Fields:
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_FORM_BYTES:
            raise FileTooLarge(f"This request's body is at most {MAX_FORM_BYTES} bytes.")
    if not raw:
        return []
    content_type = request.headers.get("content-type", "")
    mime, _ = parse_options_header(content_type)
    if mime == b"application/x-www-form-urlencoded":
        return parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True)
    if mime == b"application/json":
        return _json_fields(bytes(raw))
    if mime == b"multipart/form-data":
        return _multipart_fields(content_type, bytes(raw))
    raise BadRequest("Send the fields form-urlencoded, as multipart/form-data or as JSON.")


def _json_fields(raw: bytes) -> Fields:
    try:
        document = json.loads(raw)
    except ValueError as exc:
        raise BadRequest("The JSON body is malformed.") from exc
    if not isinstance(document, dict):
        raise BadRequest("The JSON body must be an object of fields.")
    fields: Fields = []
    for name, value in document.items():
        for item in value if isinstance(value, list) else [value]:
            if item is not None:
                fields.append((str(name), item if isinstance(item, str) else json.dumps(item)))
    return fields


def _multipart_fields(content_type: str, raw: bytes) -> Fields:
    fields: Fields = []

    def on_field(field: object) -> None:
        name = getattr(field, "field_name", b"") or b""
        value = getattr(field, "value", b"") or b""
        fields.append((name.decode("utf-8", "replace"), value.decode("utf-8", "replace")))

    def on_file(_file: object) -> None:
        raise BadRequest("This request takes text fields only, no files.")

    headers = {"Content-Type": content_type, "Content-Length": str(len(raw))}
    try:
        parse_form(headers, io.BytesIO(raw), on_field, on_file)  # type: ignore[arg-type]
    except FormParserError as exc:
        raise BadRequest("The multipart body is malformed.") from exc
    return fields


def field(fields: Fields, name: str) -> str | None:
    """The last value of ``name``; None if it was not sent."""
    found = [value for key, value in fields if key == name]
    return found[-1] if found else None


def id_list(fields: Fields, name: str) -> list[str]:
    """Imgur's list fields: ``ids[]=a&ids[]=b``, ``ids=a,b``, ``ids[0]=a``, or a JSON
    list; in order, empty items left out."""
    items: list[str] = []
    for key, value in fields:
        if key == name or key == f"{name}[]" or (key.startswith(f"{name}[") and key[-1] == "]"):
            items.extend(part.strip() for part in value.split(","))
    return [item for item in items if item]


def known(fields: Fields, names: Sequence[str]) -> None:
    """Refuse a body that names none of ``names`` (likely a client error)."""
    if not any(key.split("[", 1)[0] in names for key, _ in fields):
        raise BadRequest(f"Send at least one of: {', '.join(names)}.")
