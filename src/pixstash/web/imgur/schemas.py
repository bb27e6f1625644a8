"""Imgur's data models (image, album, credits), as the Imgur API v3 names their fields.

Builders return plain dicts (the answers are Imgur's, extra fields and all); the
pydantic models document them in OpenAPI, with Imgur-shaped examples.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from pixstash.db.base import ImageStats
from pixstash.domain.albums import Album
from pixstash.domain.formats import OutputFormat, default_output
from pixstash.domain.model import Image, Visibility
from pixstash.domain.variants import FULL
from pixstash.services.links import LinkBuilder

# Imgur's album privacy <-> pixstash's visibility (docs/API.md)
PRIVACY_TO_VISIBILITY = {
    "public": Visibility.PUBLIC,
    "hidden": Visibility.UNLISTED,
    "secret": Visibility.PRIVATE,
}
VISIBILITY_TO_PRIVACY = {v: k for k, v in PRIVACY_TO_VISIBILITY.items()}


def image_data(
    image: Image,
    links: LinkBuilder,
    stats: ImageStats,
    *,
    account_url: str | None = None,
    deletehash: str | None = None,
    name: str | None = None,
) -> dict[str, Any]:
    """Imgur's Image model. ``deletehash`` only in the uploader's answer: pixstash keeps
    delete tokens hashed, so it cannot show them again later."""
    data: dict[str, Any] = {
        "id": image.id,
        "title": image.title,
        "description": image.description,
        "datetime": int(image.created_at.timestamp()),
        "type": default_output(image.format).mime,  # of ``link``
        "animated": image.animated,
        "width": image.width,
        "height": image.height,
        "size": image.size,
        "views": stats.views,
        "bandwidth": stats.bandwidth,
        "vote": None,
        "favorite": False,
        "nsfw": None,
        "section": None,
        "account_url": account_url,
        "account_id": image.owner_id,
        "is_ad": False,
        "in_most_viral": False,
        "has_sound": False,
        "tags": [],
        "ad_type": 0,
        "ad_url": "",
        "edited": "0",
        "in_gallery": False,
        "name": name,
        "link": links.media(image, FULL),
    }
    if deletehash is not None:
        data["deletehash"] = deletehash
    if image.animated:
        data["mp4"] = links.media(image, FULL, OutputFormat.MP4)
        data["gifv"] = links.page(image.id)  # the share page plays the video
        data["looping"] = True
    return data


def album_data(
    album: Album,
    links: LinkBuilder,
    *,
    cover: Image | None,
    images: list[dict[str, Any]] | None = None,
    account_url: str | None = None,
    deletehash: str | None = None,
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": album.id,
        "title": album.title,
        "description": album.description,
        "datetime": int(album.created_at.timestamp()),
        "cover": cover.id if cover else None,
        "cover_width": cover.width if cover else None,
        "cover_height": cover.height if cover else None,
        "account_url": account_url,
        "account_id": album.owner_id,
        "privacy": VISIBILITY_TO_PRIVACY[album.visibility],
        "layout": "blog",
        "views": 0,
        "link": links.album_page(album.id),
        "favorite": False,
        "nsfw": None,
        "section": None,
        "images_count": album.image_count,
        "in_gallery": False,
        "is_ad": False,
        "include_album_ads": False,
    }
    if deletehash is not None:
        data["deletehash"] = deletehash
    if images is not None:
        data["images"] = images
        data["images_count"] = len(images)
    return data


# --- OpenAPI documentation ------------------------------------------------------

IMAGE_EXAMPLE: dict[str, Any] = {
    "id": "aB3dE5f",
    "title": "Sunset over the bay",
    "description": None,
    "datetime": 1765800000,
    "type": "image/jpeg",
    "animated": False,
    "width": 1920,
    "height": 1080,
    "size": 482113,
    "views": 12,
    "bandwidth": 5785356,
    "vote": None,
    "favorite": False,
    "nsfw": None,
    "section": None,
    "account_url": None,
    "account_id": None,
    "is_ad": False,
    "in_most_viral": False,
    "has_sound": False,
    "tags": [],
    "ad_type": 0,
    "ad_url": "",
    "edited": "0",
    "in_gallery": False,
    "name": "sunset.jpg",
    "deletehash": "q8Yb2Vd0k7mJ1sX4nC9wTzL3pR6uE5aH",
    "link": "https://pix.example.com/aB3dE5f.jpg",
}
ALBUM_EXAMPLE: dict[str, Any] = {
    "id": "Xy7Qw2e",
    "title": "Holiday",
    "description": "Two weeks by the sea",
    "datetime": 1765800000,
    "cover": "aB3dE5f",
    "cover_width": 1920,
    "cover_height": 1080,
    "account_url": "ada",
    "account_id": 1,
    "privacy": "hidden",
    "layout": "blog",
    "views": 0,
    "link": "https://pix.example.com/a/Xy7Qw2e",
    "favorite": False,
    "nsfw": None,
    "section": None,
    "images_count": 1,
    "in_gallery": False,
    "is_ad": False,
    "include_album_ads": False,
    "images": [IMAGE_EXAMPLE],
}
CREDITS_EXAMPLE: dict[str, Any] = {
    "UserLimit": 2000,
    "UserRemaining": 1998,
    "UserReset": 1765803600,
    "ClientLimit": 12500,
    "ClientRemaining": 12461,
}


def ok_example(data: Any) -> dict[str, Any]:
    return {"data": data, "success": True, "status": 200}


class ImgurError(BaseModel):
    error: str = Field(examples=["Authentication required: send 'Authorization: Client-ID ..."])
    code: str = Field(description="pixstash's stable error code", examples=["invalid-request"])
    request: str = Field(examples=["/3/image"])
    method: str = Field(examples=["POST"])


class ImgurErrorEnvelope(BaseModel):
    data: ImgurError
    success: bool = Field(examples=[False])
    status: int = Field(examples=[400])


class ImgurEnvelope(BaseModel):
    """``data`` is an Image, an Album, a list of Images, credits or ``true``."""

    data: Any
    success: bool = Field(examples=[True])
    status: int = Field(examples=[200])


_UPLOAD_ERRORS = {
    413: "File too large",
    415: "Not an accepted image type",
    422: "Image refused (too many pixels, corrupt, malware); an image link that could not "
    "be fetched (type=url)",
}


def documented(
    example: Any, description: str, *, upload: bool = False
) -> dict[int | str, dict[str, Any]]:
    """``responses=`` of a /3/ route: the envelope with an example, and the errors."""
    errors: dict[int | str, dict[str, Any]] = {
        status: {"model": ImgurErrorEnvelope, "description": text}
        for status, text in {
            400: "Malformed request (bad base64, no image, bad field)",
            401: "No Authorization header, or a bad bearer token",
            403: "Not allowed: not the owner, wrong deletehash, Client-ID not accepted",
            404: "No such image or album",
            429: "Rate limited; see Retry-After",
            **(_UPLOAD_ERRORS if upload else {}),
            503: "A backend is unavailable; see Retry-After",
        }.items()
    }
    return {
        200: {
            "model": ImgurEnvelope,
            "description": description,
            "content": {"application/json": {"example": ok_example(example)}},
        },
        **errors,
    }
