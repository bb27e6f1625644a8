"""The Imgur API v3, at ``/3/``: tools made for Imgur work with only the base URL changed.

``router`` holds every route (``images``, ``albums``) and, last, a catch-all that
answers other ``/3/`` paths with Imgur's 404 envelope. What is supported and how it
differs from Imgur: docs/API.md, "Imgur API v3 compatibility".
"""

from __future__ import annotations

from fastapi import APIRouter

from pixstash.errors import NotFound
from pixstash.web.imgur import albums, images
from pixstash.web.imgur.envelope import ImgurRoute

_fallback = APIRouter(route_class=ImgurRoute)


@_fallback.api_route(
    "/3/{path:path}",
    methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"],
    include_in_schema=False,
)
async def not_served(path: str) -> None:
    raise NotFound(
        f"pixstash does not serve /3/{path[:64]}; see the Imgur API v3 endpoints it "
        "supports in docs/API.md."
    )


router = APIRouter()
router.include_router(images.router)
router.include_router(albums.router)
router.include_router(_fallback)

__all__ = ["router"]
