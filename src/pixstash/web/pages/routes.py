"""Server-rendered pages: upload (``/``), share page (``/{id}``), deletion confirmation,
and the oEmbed endpoint that chat apps and CMSs use to unfurl links."""

from __future__ import annotations

import base64
import logging
from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from pixstash.domain.formats import default_output
from pixstash.domain.model import Image
from pixstash.domain.variants import LARGE, THUMB, parse_media_name
from pixstash.errors import BadRequest, ImageNotFound
from pixstash.processing.placeholder import placeholder_png
from pixstash.services.links import LinkBuilder
from pixstash.web import convertors as _convertors  # noqa: F401 (registers them)
from pixstash.web.deps import ContainerDep, LinksDep, current_principal
from pixstash.web.pages.render import render, viewer

log = logging.getLogger(__name__)
# every page knows who is looking (the header shows the login state)
router = APIRouter(include_in_schema=False, dependencies=[Depends(current_principal)])


@router.get("/", response_class=HTMLResponse)
async def upload_page(request: Request, container: ContainerDep) -> HTMLResponse:
    settings = container.settings
    return render(
        request,
        "index.html",
        {
            "max_upload_mb": settings.max_upload_bytes / (1024 * 1024),
            "max_files": settings.max_files_per_request,
        },
    )


def image_context(image: Image, links: LinkBuilder) -> dict[str, Any]:
    large_w, large_h = LARGE.target_size(image.width, image.height)
    urls = links.for_image(image)
    return {
        "image": image,
        "links": urls,
        "large_width": large_w,
        "large_height": large_h,
        "title": image.title or f"Image {image.id}",
        "mime": default_output(image.format).mime,
        "oembed_url": f"{links.base}/oembed?url={urls['page']}&format=json",
    }


@router.get("/{image_id:publicid}", response_class=HTMLResponse)
async def share_page(
    request: Request, image_id: str, container: ContainerDep, links: LinksDep
) -> HTMLResponse:
    image = await container.images.get(image_id, viewer(request))  # private: owner, admin
    context = image_context(image, links)
    context["placeholder_url"] = await placeholder_data_url(image)
    response = render(request, "image.html", context)
    if image.visibility.value == "private":  # for its owner's eyes, with signed links
        response.headers["cache-control"] = "private, no-store"
    return response


async def placeholder_data_url(image: Image) -> str | None:
    """The decoded placeholder as a ``data:`` URL, or None when there is none (yet)."""
    if image.placeholder is None:
        return None
    try:  # decoding is pure Python (ms, cached after): off the event loop
        png = await anyio.to_thread.run_sync(
            placeholder_png, image.placeholder.blurhash, image.width, image.height
        )
    except ValueError as exc:  # a page without its placeholder beats no page
        log.warning("no placeholder for %s: %s", image.id, exc)
        return None
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


@router.get("/{image_id:publicid}/delete/{token}", response_class=HTMLResponse)
async def delete_confirm(
    request: Request, image_id: str, token: str, container: ContainerDep, links: LinksDep
) -> HTMLResponse:
    image = await container.images.check_delete_token(image_id, token)
    return render(request, "delete.html", {**image_context(image, links), "token": token})


@router.post("/{image_id:publicid}/delete/{token}", response_class=HTMLResponse)
async def delete_confirmed(
    request: Request, image_id: str, token: str, container: ContainerDep
) -> HTMLResponse:
    await container.images.delete(image_id, token)
    return render(request, "deleted.html", {"image_id": image_id})


@router.get("/upload")
async def upload_redirect() -> RedirectResponse:
    return RedirectResponse("/", status_code=308)


@router.get("/oembed")
async def oembed(
    container: ContainerDep,
    links: LinksDep,
    request: Request,
    url: Annotated[str, Query(description="A share page or media URL")],
    format: Annotated[str, Query()] = "json",
    maxwidth: Annotated[int | None, Query(ge=1)] = None,
    maxheight: Annotated[int | None, Query(ge=1)] = None,
) -> JSONResponse:
    if format != "json":
        return JSONResponse(
            {"error": {"code": "format-not-implemented", "message": "Only format=json."}},
            status_code=501,
        )
    image = await container.images.get(_image_id_from_url(url), viewer(request))
    width, height = LARGE.target_size(image.width, image.height)
    if maxwidth or maxheight:
        box = min(maxwidth or width, maxheight or height)
        width, height = _fit(width, height, box)
    thumb_w, thumb_h = THUMB.target_size(image.width, image.height)
    return JSONResponse(
        {
            "version": "1.0",
            "type": "photo",
            "title": image.title or f"Image {image.id}",
            "provider_name": "pixstash",
            "provider_url": links.base,
            "url": links.media(image, LARGE),
            "width": width,
            "height": height,
            "thumbnail_url": links.media(image, THUMB),
            "thumbnail_width": thumb_w,
            "thumbnail_height": thumb_h,
            "web_page": links.page(image.id),
        }
    )


def _image_id_from_url(url: str) -> str:
    last = url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    media = parse_media_name(last)
    if media is not None:
        return media.public_id
    if not last:
        raise BadRequest("The url parameter names no image.")
    if len(last) != 7:
        raise ImageNotFound()
    return last


def _fit(width: int, height: int, box: int) -> tuple[int, int]:
    scale = min(box / width, box / height, 1.0)
    return max(1, round(width * scale)), max(1, round(height * scale))
