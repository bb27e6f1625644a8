"""``/3/image``, ``/3/upload`` and ``/3/credits`` of the Imgur-compatible API."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from pixstash.domain.albums import is_editor
from pixstash.domain.ids import is_public_id
from pixstash.domain.model import Image
from pixstash.errors import FileTooLarge, ImageNotFound, NotAlbumEditor
from pixstash.services.links import LinkBuilder
from pixstash.services.staging import StagedFile
from pixstash.services.uploads import Uploaded, UploadMeta
from pixstash.web.deps import ContainerDep, LinksDep
from pixstash.web.imgur.auth import CallerDep, ImgurCaller
from pixstash.web.imgur.envelope import ImgurRoute, ok
from pixstash.web.imgur.forms import field, read_fields
from pixstash.web.imgur.limits import client_decision, user_decision
from pixstash.web.imgur.schemas import (
    CREDITS_EXAMPLE,
    IMAGE_EXAMPLE,
    documented,
    image_data,
)
from pixstash.web.imgur.upload_form import read_imgur_upload
from pixstash.web.ratelimit import enforce_upload_limit
from pixstash.wiring import Container

router = APIRouter(prefix="/3", tags=["imgur"], route_class=ImgurRoute)

_FORM_FIELDS: dict[str, Any] = {
    "image": {
        "description": "The image: a file, base64 data, or an http(s) URL to fetch",
        "oneOf": [{"type": "string", "format": "binary"}, {"type": "string"}],
    },
    "type": {"type": "string", "enum": ["file", "base64", "url"], "description": "Optional"},
    "title": {"type": "string"},
    "description": {"type": "string"},
    "name": {"type": "string", "description": "The file name (echoed in the answer)"},
    "album": {
        "type": "string",
        "description": "An album id you can edit, or an anonymous album's deletehash",
    },
    "album_id": {"type": "string", "description": "Same as album"},
}
_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            media_type: {
                "schema": {"type": "object", "required": ["image"], "properties": _FORM_FIELDS},
                "example": example,
            }
            for media_type, example in (
                ("multipart/form-data", {"image": "(the file)", "title": "Sunset"}),
                (
                    "application/x-www-form-urlencoded",
                    {"image": "https://example.com/cat.jpg", "type": "url", "title": "Cat"},
                ),
            )
        },
    }
}
_UPDATE_BODY = {
    "requestBody": {
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "properties": {"title": {"type": "string"}, "description": {"type": "string"}},
                },
                "example": {"title": "A better title"},
            }
        }
    }
}
_SLACK = 64 * 1024  # multipart framing and text fields


async def upload(
    request: Request, container: ContainerDep, links: LinksDep, caller: CallerDep
) -> JSONResponse:
    """Imgur's image upload: ``image`` as a multipart file, base64 data or a URL, in a
    multipart or form-urlencoded body; optional ``type``, ``title``, ``description``,
    ``name``, ``album``/``album_id``. Answers Imgur's Image with its ``deletehash``.
    Videos are not supported."""
    container.uploads.check_uploader(caller.user_id)  # before reading a byte
    await enforce_upload_limit(request, caller.principal)  # so is the rate limit
    declared = request.headers.get("content-length", "")
    max_total = container.settings.max_upload_bytes * 4 // 3 + _SLACK  # base64 is 4/3
    if declared.isdigit() and int(declared) > max_total:
        raise FileTooLarge(
            f"The request is larger than {max_total // (1024 * 1024)} MB; send a smaller file."
        )
    body = await read_imgur_upload(
        request.headers.get("content-type", ""), request.stream(), container.staging
    )
    fields = body.fields
    try:
        album = await _upload_album(container, caller, fields.get("album", fields.get("album_id")))
    except BaseException:
        body.discard()
        raise
    meta = UploadMeta(
        title=fields.get("title"), description=fields.get("description"), owner_id=caller.user_id
    )
    name = fields.get("name") or _filename(body.files)
    if "url" in fields:
        uploaded = await container.url_ingest.ingest(fields["url"], meta)
    else:
        uploaded = (await container.uploads.ingest(body.files, meta))[0]
    if album is not None:
        await _add_to_album(container, caller, album, uploaded)
    data = await _image_out(container, links, uploaded.image, caller)
    data.update(deletehash=uploaded.delete_token, name=name)
    return ok(data)


router.add_api_route(
    "/image",
    upload,
    methods=["POST"],
    summary="Upload an image (Imgur)",
    responses=documented(IMAGE_EXAMPLE, "The new image, with its deletehash", upload=True),
    openapi_extra=_UPLOAD_BODY,
    operation_id="imgur_upload_image",
)
router.add_api_route(
    "/upload",
    upload,
    methods=["POST"],
    summary="Upload an image (Imgur's alias of POST /3/image)",
    responses=documented(IMAGE_EXAMPLE, "The new image, with its deletehash", upload=True),
    openapi_extra=_UPLOAD_BODY,
    operation_id="imgur_upload",
)


@router.get(
    "/image/{image_ref}",
    summary="Image information (Imgur)",
    responses=documented({k: v for k, v in IMAGE_EXAMPLE.items() if k != "deletehash"}, "Image"),
)
async def get_image(
    image_ref: str, container: ContainerDep, links: LinksDep, caller: CallerDep
) -> JSONResponse:
    """Imgur's Image model; no ``deletehash`` (pixstash keeps delete tokens hashed)."""
    image = await container.images.get(image_ref, caller.principal)
    return ok(await _image_out(container, links, image, caller))


@router.post(
    "/image/{image_ref}",
    summary="Update an image's title or description (Imgur)",
    responses=documented(True, "Updated"),
    openapi_extra=_UPDATE_BODY,
)
async def update_image(
    image_ref: str, request: Request, container: ContainerDep, caller: CallerDep
) -> JSONResponse:
    """By its owner (or an admin) with a Bearer token, or by anyone who sends the
    image's deletehash as ``{image_ref}``. Only the fields sent change."""
    fields = await read_fields(request)
    changes = {name: field(fields, name) for name in ("title", "description")}
    changes = {name: value for name, value in changes.items() if value is not None}
    image_id, token = await _resolve_image(container, image_ref)
    await container.library.update_text(
        image_id, changes, principal=caller.principal, delete_token=token
    )
    return ok(True)


@router.delete(
    "/image/{image_ref}",
    summary="Delete an image (Imgur)",
    responses=documented(True, "Deleted"),
)
async def delete_image(image_ref: str, container: ContainerDep, caller: CallerDep) -> JSONResponse:
    """``{image_ref}`` is the image's deletehash (anyone holding it), or its id with the
    owner's (or an admin's) Bearer token."""
    image_id, token = await _resolve_image(container, image_ref)
    await container.images.delete(image_id, token, principal=caller.principal)
    return ok(True)


@router.get(
    "/credits",
    summary="Rate-limit credits (Imgur)",
    responses=documented(CREDITS_EXAMPLE, "Remaining credits"),
)
async def credits(request: Request, caller: CallerDep) -> JSONResponse:
    """The numbers of this request's X-RateLimit-* headers; null where no limit is set."""
    client, user = client_decision(request), user_decision(request)
    return ok(
        {
            "UserLimit": user.limit if user else None,
            "UserRemaining": user.remaining if user else None,
            "UserReset": user.reset_at if user else None,
            "ClientLimit": client.limit if client else None,
            "ClientRemaining": client.remaining if client else None,
        }
    )


# --- helpers ----------------------------------------------------------------------


async def _resolve_image(container: Container, image_ref: str) -> tuple[str, str | None]:
    """An image id (the caller must own it) or a deletehash (which proves the right)."""
    if is_public_id(image_ref):
        return image_ref, None
    if len(image_ref) > 128:
        raise ImageNotFound()
    image = await container.images.find_by_delete_token(image_ref)
    return image.id, image_ref


async def _image_out(
    container: Container, links: LinkBuilder, image: Image, caller: ImgurCaller
) -> dict[str, Any]:
    stats = await container.views.stats(image.id)
    account_url = None
    if image.owner_id is not None:
        if caller.principal is not None and caller.principal.user_id == image.owner_id:
            account_url = caller.principal.username
        else:
            account_url = (await container.accounts.usernames([image.owner_id])).get(image.owner_id)
    return image_data(image, links, stats, account_url=account_url)


async def _upload_album(
    container: Container, caller: ImgurCaller, ref: str | None
) -> tuple[str, str | None] | None:
    """The album an upload goes to, checked before anything is stored: ``(id, None)``
    for an album the caller edits, ``(id, deletehash)`` for an anonymous album."""
    if not ref:
        return None
    if is_public_id(ref):
        album = await container.albums.get(ref, caller.principal)
        if not is_editor(album.owner_id, caller.principal):
            raise NotAlbumEditor(
                "Only the album's owner can add to it by id; for an anonymous album send "
                "its deletehash as 'album'."
            )
        return album.id, None
    album = await container.albums.get_by_delete_token(ref)
    return album.id, ref


async def _add_to_album(
    container: Container, caller: ImgurCaller, album: tuple[str, str | None], up: Uploaded
) -> None:
    album_id, token = album
    try:
        await container.albums.add(
            album_id,
            caller.principal,
            [],
            delete_token=token,
            image_delete_tokens=[up.delete_token],
        )
    except BaseException:
        await container.images.remove(up.image.id)  # all or nothing
        raise


def _filename(files: list[StagedFile]) -> str | None:
    return files[0].filename if files else None
