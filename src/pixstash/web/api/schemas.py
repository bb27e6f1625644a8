"""API response models (they also document the OpenAPI schema)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from pixstash.domain.model import Image
from pixstash.services.links import LinkBuilder


class ImageLinks(BaseModel):
    page: str
    full: str
    thumb: str
    medium: str
    large: str
    mp4: str | None = Field(
        None, description="H.264 video of an animation (Imgur's gifv); animations only."
    )
    delete: str | None = Field(None, description="Deletion page; only in the upload response.")


class ImageOut(BaseModel):
    id: str = Field(examples=["aB3dE5f"])
    type: str = Field(description="MIME type of the original", examples=["image/jpeg"])
    width: int
    height: int
    size: int = Field(description="Bytes of the original upload")
    animated: bool
    frames: int
    status: str = Field(description="pending | ready | failed: are the variants made?")
    title: str | None
    description: str | None
    created_at: datetime
    placeholder: str | None = Field(
        description="BlurHash (https://blurha.sh) to show while the image loads; null until "
        "the image is processed",
        examples=["LVHLl1t7~qxut7j[ofj[~qofofof"],
    )
    colour: str | None = Field(
        description="Dominant colour as #rrggbb; null until the image is processed",
        examples=["#7b7b7b"],
    )
    links: ImageLinks
    delete_token: str | None = Field(
        None, description="Shown once, in the upload response only; keep it to delete."
    )

    @classmethod
    def build(cls, image: Image, links: LinkBuilder, delete_token: str | None = None) -> ImageOut:
        placeholder = image.placeholder
        return cls(
            id=image.id,
            type=image.format.mime,
            width=image.width,
            height=image.height,
            size=image.size,
            animated=image.animated,
            frames=image.frames,
            status=image.status.value,
            title=image.title,
            description=image.description,
            created_at=image.created_at,
            placeholder=placeholder.blurhash if placeholder else None,
            colour=placeholder.colour if placeholder else None,
            links=ImageLinks(**links.for_image(image, delete_token)),
            delete_token=delete_token,
        )


class ImageList(BaseModel):
    images: list[ImageOut]


class ErrorBody(BaseModel):
    code: str = Field(examples=["unsupported-media-type"])
    message: str


class ErrorOut(BaseModel):
    error: ErrorBody
