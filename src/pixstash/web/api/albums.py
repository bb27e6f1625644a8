"""``/api/v1/albums``: create, read, change, reorder, delete and download albums.

Album editors authenticate as for images: a bearer token or web session (the owner or
an administrator), or ``X-Delete-Token`` with the token of an anonymous album.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Response
from fastapi.responses import JSONResponse, StreamingResponse

from pixstash.services.albums import UNCHANGED, AlbumArchive
from pixstash.web.api.album_schemas import (
    AlbumCreate,
    AlbumEdit,
    AlbumImagesIn,
    AlbumList,
    AlbumOut,
)
from pixstash.web.api.schemas import ErrorOut
from pixstash.web.deps import ContainerDep, LinksDep, PrincipalDep, RequireUserDep

router = APIRouter(prefix="/api/v1", tags=["albums"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut, "description": text}
    for status, text in {
        400: "Malformed request; private-needs-account (anonymous albums cannot be private), "
        "album-images-mismatch (a reorder must list every image once)",
        401: "A bad bearer token (invalid-token)",
        403: "Not the album's editor (not-album-editor), a wrong X-Delete-Token "
        "(invalid-delete-token), adding an image that is not yours (not-image-owner), "
        "cookie-authenticated change from another origin (csrf-failed)",
        404: "No such album (album-not-found) or image (image-not-found); private albums "
        "and images of others are not found either",
    }.items()
}
DeleteTokenHeader = Annotated[str | None, Header(alias="X-Delete-Token")]
_NO_STORE = {"Cache-Control": "no-store"}


@router.post(
    "/albums", status_code=201, response_model=AlbumOut, responses=_ERRORS, summary="New album"
)
async def create_album(
    body: AlbumCreate, container: ContainerDep, links: LinksDep, principal: PrincipalDep
) -> JSONResponse:
    """Owned when logged in; otherwise anonymous, answered with its ``delete_token``
    (shown once). Images must be yours, or proven by their delete tokens."""
    created = await container.albums.create(
        principal,
        title=body.title,
        description=body.description,
        visibility=body.visibility,
        image_ids=body.ids,
        image_delete_tokens=body.deletehashes,
        cover=body.cover,
    )
    out = AlbumOut.build(created.album, links, delete_token=created.delete_token)
    return JSONResponse(
        out.model_dump(mode="json"),
        status_code=201,
        headers={"Location": out.links.page, **_NO_STORE},
    )


@router.get(
    "/albums/{album_id}", response_model=AlbumOut, responses=_ERRORS, summary="Album with images"
)
async def get_album(
    album_id: str, container: ContainerDep, links: LinksDep, principal: PrincipalDep
) -> AlbumOut:
    album = await container.albums.get(album_id, principal)
    images = await container.albums.images(album_id, principal)
    return AlbumOut.build(album, links, images=images)


@router.get(
    "/me/albums", response_model=AlbumList, responses=_ERRORS, summary="My albums, newest first"
)
async def my_albums(
    principal: RequireUserDep, container: ContainerDep, links: LinksDep
) -> AlbumList:
    albums = await container.albums.list_owned(principal.user_id)
    return AlbumList(albums=[AlbumOut.build(album, links) for album in albums])


@router.patch(
    "/albums/{album_id}",
    response_model=AlbumOut,
    responses=_ERRORS,
    summary="Change title, description, visibility or cover",
)
async def edit_album(
    album_id: str,
    edit: AlbumEdit,
    container: ContainerDep,
    links: LinksDep,
    principal: PrincipalDep,
    x_delete_token: DeleteTokenHeader = None,
) -> AlbumOut:
    given = edit.model_dump(exclude_unset=True)
    if "visibility" in given and given["visibility"] is None:
        given.pop("visibility")  # null: unchanged (an album always has a visibility)
    album = await container.albums.update(
        album_id,
        principal,
        title=given.get("title", UNCHANGED),
        description=given.get("description", UNCHANGED),
        visibility=given.get("visibility", UNCHANGED),
        cover=given.get("cover", UNCHANGED),
        delete_token=x_delete_token,
    )
    return AlbumOut.build(album, links)


@router.post(
    "/albums/{album_id}/images",
    response_model=AlbumOut,
    responses=_ERRORS,
    summary="Add images (at the end, in the order given)",
)
async def add_images(
    album_id: str,
    body: AlbumImagesIn,
    container: ContainerDep,
    links: LinksDep,
    principal: PrincipalDep,
    x_delete_token: DeleteTokenHeader = None,
) -> AlbumOut:
    """Images already in the album stay where they are. Each image must be yours, or an
    anonymous one whose delete token is in ``deletehashes``; all or none are added."""
    album = await container.albums.add(
        album_id,
        principal,
        body.ids,
        delete_token=x_delete_token,
        image_delete_tokens=body.deletehashes,
    )
    return AlbumOut.build(album, links)


@router.put(
    "/albums/{album_id}/images",
    response_model=AlbumOut,
    responses=_ERRORS,
    summary="Reorder: every image of the album, each once, in the new order",
)
async def reorder_images(
    album_id: str,
    body: AlbumImagesIn,
    container: ContainerDep,
    links: LinksDep,
    principal: PrincipalDep,
    x_delete_token: DeleteTokenHeader = None,
) -> AlbumOut:
    album = await container.albums.reorder(
        album_id, principal, body.ids, delete_token=x_delete_token
    )
    return AlbumOut.build(album, links)


@router.delete(
    "/albums/{album_id}/images/{image_id}",
    response_model=AlbumOut,
    responses=_ERRORS,
    summary="Take an image out of the album (the image stays)",
)
async def remove_image(
    album_id: str,
    image_id: str,
    container: ContainerDep,
    links: LinksDep,
    principal: PrincipalDep,
    x_delete_token: DeleteTokenHeader = None,
) -> AlbumOut:
    album = await container.albums.remove(
        album_id, principal, [image_id], delete_token=x_delete_token
    )
    return AlbumOut.build(album, links)


@router.delete(
    "/albums/{album_id}",
    status_code=204,
    responses=_ERRORS,
    summary="Delete an album (its images stay)",
)
async def delete_album(
    album_id: str,
    container: ContainerDep,
    principal: PrincipalDep,
    x_delete_token: DeleteTokenHeader = None,
) -> Response:
    await container.albums.delete(album_id, principal, delete_token=x_delete_token)
    return Response(status_code=204)


@router.get(
    "/albums/{album_id}/zip",
    responses={200: {"content": {"application/zip": {}}}, **_ERRORS},
    response_class=StreamingResponse,
    summary="Download the album's full-size images as a zip (streamed)",
)
async def album_zip(album_id: str, container: ContainerDep, principal: PrincipalDep) -> Response:
    return zip_response(await container.albums.archive(album_id, principal))


def zip_response(archive: AlbumArchive) -> StreamingResponse:
    """The zip is made while it is sent: no Content-Length, one image in memory at a time."""
    return StreamingResponse(
        archive.chunks,
        media_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="album-{archive.album.id}.zip"',
            "Cache-Control": "private, no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )
