"""``/3/album`` of the Imgur-compatible API.

Imgur's privacy maps onto pixstash's visibility: public -> public, hidden (Imgur's
default) -> unlisted, secret -> private (owner only, so it needs a Bearer token).
An anonymous album answers a ``deletehash`` once, at creation; it stands in for the
album id wherever Imgur accepts one (``/3/album/{deletehash}/add``, ``DELETE``).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from pixstash.domain.albums import Album
from pixstash.domain.ids import is_public_id
from pixstash.domain.model import Image
from pixstash.errors import AlbumNotFound, BadRequest
from pixstash.services.links import LinkBuilder
from pixstash.web.deps import ContainerDep, LinksDep
from pixstash.web.imgur.auth import CallerDep
from pixstash.web.imgur.envelope import ImgurRoute, ok
from pixstash.web.imgur.forms import field, id_list, read_fields
from pixstash.web.imgur.schemas import (
    ALBUM_EXAMPLE,
    IMAGE_EXAMPLE,
    PRIVACY_TO_VISIBILITY,
    album_data,
    documented,
    image_data,
)
from pixstash.wiring import Container

router = APIRouter(prefix="/3", tags=["imgur"], route_class=ImgurRoute)

_LIST = {"type": "array", "items": {"type": "string"}}
_ALBUM_BODY = {
    "requestBody": {
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "ids[]": {**_LIST, "description": "Ids of your images"},
                        "deletehashes[]": {
                            **_LIST,
                            "description": "Deletehashes of anonymous images",
                        },
                        "title": {"type": "string"},
                        "description": {"type": "string"},
                        "privacy": {"type": "string", "enum": list(PRIVACY_TO_VISIBILITY)},
                        "cover": {"type": "string", "description": "One of the images' ids"},
                    },
                },
                "example": {
                    "deletehashes[]": ["q8Yb2Vd0k7mJ1sX4nC9wTzL3pR6uE5aH"],
                    "title": "Trip",
                },
            }
        }
    }
}
_ADD_BODY = {
    "requestBody": {
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "properties": {"ids[]": _LIST, "deletehashes[]": _LIST},
                },
                "example": {"ids[]": ["aB3dE5f"]},
            }
        }
    }
}
_MAX_REF = 128


@router.post(
    "/album",
    summary="Create an album (Imgur)",
    responses=documented({"id": "Xy7Qw2e", "deletehash": "Zp4...kQ"}, "The new album"),
    openapi_extra=_ALBUM_BODY,
)
async def create_album(
    request: Request, container: ContainerDep, caller: CallerDep
) -> JSONResponse:
    """``ids[]`` of your images (Bearer), ``deletehashes[]`` of anonymous ones, ``title``,
    ``description``, ``privacy`` (public | hidden | secret), ``cover``. An anonymous
    album answers its ``deletehash``, shown this once."""
    fields = await read_fields(request)
    privacy = (field(fields, "privacy") or "hidden").strip().lower()
    if privacy not in PRIVACY_TO_VISIBILITY:
        raise BadRequest("privacy is public, hidden or secret.")
    created = await container.albums.create(
        caller.principal,
        title=field(fields, "title"),
        description=field(fields, "description"),
        visibility=PRIVACY_TO_VISIBILITY[privacy],
        image_ids=id_list(fields, "ids"),
        image_delete_tokens=id_list(fields, "deletehashes"),
        cover=field(fields, "cover") or None,
    )
    data: dict[str, Any] = {"id": created.album.id}
    if created.delete_token is not None:
        data["deletehash"] = created.delete_token
    return ok(data)


@router.get(
    "/album/{album_id}",
    summary="Album information with its images (Imgur)",
    responses=documented(ALBUM_EXAMPLE, "Album"),
)
async def get_album(
    album_id: str, container: ContainerDep, links: LinksDep, caller: CallerDep
) -> JSONResponse:
    album = await container.albums.get(album_id, caller.principal)
    images = await container.albums.images(album.id, caller.principal)
    return ok(await _album_out(container, links, album, images))


@router.get(
    "/album/{album_id}/images",
    summary="An album's images (Imgur)",
    responses=documented([{k: v for k, v in IMAGE_EXAMPLE.items() if k != "deletehash"}], "Images"),
)
async def album_images(
    album_id: str, container: ContainerDep, links: LinksDep, caller: CallerDep
) -> JSONResponse:
    images = await container.albums.images(album_id, caller.principal)
    return ok(await _images_out(container, links, images))


@router.post(
    "/album/{album_ref}/add",
    summary="Add images to an album (Imgur)",
    responses=documented(True, "Added"),
    openapi_extra=_ADD_BODY,
)
async def add_images(
    album_ref: str, request: Request, container: ContainerDep, caller: CallerDep
) -> JSONResponse:
    """``{album_ref}``: the album's id (its owner, with a Bearer token) or an anonymous
    album's deletehash. ``ids[]`` of your images, ``deletehashes[]`` of anonymous ones."""
    fields = await read_fields(request)
    ids, tokens = id_list(fields, "ids"), id_list(fields, "deletehashes")
    if not ids and not tokens:
        raise BadRequest("Send the images to add as ids[] or deletehashes[].")
    album_id, token = await _resolve_album(container, album_ref)
    await container.albums.add(
        album_id, caller.principal, ids, delete_token=token, image_delete_tokens=tokens
    )
    return ok(True)


@router.delete(
    "/album/{album_ref}",
    summary="Delete an album; its images stay (Imgur)",
    responses=documented(True, "Deleted"),
)
async def delete_album(album_ref: str, container: ContainerDep, caller: CallerDep) -> JSONResponse:
    album_id, token = await _resolve_album(container, album_ref)
    await container.albums.delete(album_id, caller.principal, delete_token=token)
    return ok(True)


# --- helpers ----------------------------------------------------------------------


async def _resolve_album(container: Container, album_ref: str) -> tuple[str, str | None]:
    """An album id (the caller must edit it) or a deletehash (which proves the right)."""
    if is_public_id(album_ref):
        return album_ref, None
    if len(album_ref) > _MAX_REF:
        raise AlbumNotFound()
    album = await container.albums.get_by_delete_token(album_ref)
    return album.id, album_ref


async def _images_out(
    container: Container, links: LinkBuilder, images: list[Image]
) -> list[dict[str, Any]]:
    stats = await container.views.many([i.id for i in images])
    names = await container.accounts.usernames(i.owner_id for i in images if i.owner_id)
    return [
        image_data(
            image,
            links,
            stats[image.id],
            account_url=names.get(image.owner_id) if image.owner_id else None,
        )
        for image in images
    ]


async def _album_out(
    container: Container,
    links: LinkBuilder,
    album: Album,
    images: list[Image],
) -> dict[str, Any]:
    cover = container.albums.cover(album, images)
    owner = None
    if album.owner_id is not None:
        owner = (await container.accounts.usernames([album.owner_id])).get(album.owner_id)
    return album_data(
        album,
        links,
        cover=cover,
        images=await _images_out(container, links, images),
        account_url=owner,
    )
