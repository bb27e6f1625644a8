"""Pages of albums (``/a/{id}``, its zip) and of the public "recent" images (``/recent``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from pixstash.domain.formats import default_output
from pixstash.domain.variants import LARGE
from pixstash.services.library import PAGE_MAX
from pixstash.web import convertors as _convertors  # noqa: F401 (registers them)
from pixstash.web.api.albums import zip_response
from pixstash.web.deps import ContainerDep, LinksDep, current_principal
from pixstash.web.pages.render import render, viewer

router = APIRouter(include_in_schema=False, dependencies=[Depends(current_principal)])
RECENT_PAGE = 48


@router.get("/recent", response_class=HTMLResponse)
async def recent_page(
    request: Request,
    container: ContainerDep,
    links: LinksDep,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=PAGE_MAX)] = RECENT_PAGE,
) -> HTMLResponse:
    """Public images, newest first; "older" follows the keyset cursor."""
    page = await container.library.list_recent(limit=limit, cursor=cursor)
    items = [{"image": image, "links": links.for_image(image)} for image in page.images]
    return render(
        request,
        "recent.html",
        {"items": items, "next_cursor": page.next_cursor, "first_page": cursor is None},
    )


@router.get("/a/{album_id:publicid}", response_class=HTMLResponse)
async def album_page(
    request: Request, album_id: str, container: ContainerDep, links: LinksDep
) -> HTMLResponse:
    actor = viewer(request)
    album = await container.albums.get(album_id, actor)
    images = await container.albums.images(album_id, actor)
    cover = container.albums.cover(album, images)
    context = {
        "album": album,
        "title": album.title or f"Album {album.id}",
        "page_url": links.album_page(album.id),
        "items": [{"image": image, "links": links.for_image(image)} for image in images],
        "cover": None,
    }
    if cover is not None:
        width, height = LARGE.target_size(cover.width, cover.height)
        context["cover"] = {
            "url": links.media(cover, LARGE),
            "width": width,
            "height": height,
            "mime": default_output(cover.format).mime,
        }
    response = render(request, "album.html", context)
    if album.visibility.value == "private" or any(
        image.visibility.value == "private" for image in images
    ):
        response.headers["cache-control"] = "private, no-store"
    return response


@router.get("/a/{album_id:publicid}/zip")
async def album_zip_page(request: Request, album_id: str, container: ContainerDep) -> Response:
    return zip_response(await container.albums.archive(album_id, viewer(request)))
