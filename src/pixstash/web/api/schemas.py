"""API response models (they also document the OpenAPI schema)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from pixstash.domain.model import Image, Visibility
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
    visibility: Visibility = Field(
        description="public (listed on /recent), unlisted (link only) or private (owner only; "
        "its media links are short-lived signed URLs)"
    )
    created_at: datetime
    expires_at: datetime | None = Field(
        None, description="When the image disappears (expires_in at upload); null: never"
    )
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
            visibility=image.visibility,
            created_at=image.created_at,
            expires_at=image.expires_at,
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


class UploadStart(BaseModel):
    """``POST /api/v1/uploads``: what the client is about to send."""

    filename: str | None = Field(
        None, max_length=1024, description="Shown as a label only; decides nothing."
    )
    content_type: str = Field(max_length=255, examples=["image/jpeg"])
    size: int = Field(ge=1, description="Exact size of the file in bytes", examples=[2481734])
    title: str | None = Field(None, max_length=10_000)
    description: str | None = Field(None, max_length=100_000)
    visibility: str | None = Field(
        None, max_length=16, description="public, unlisted (default) or private (accounts only)"
    )
    expires_in: str | None = Field(
        None, max_length=16, description="1h, 1d, 7d or 30d, counted from the completion"
    )


class UploadTicketOut(BaseModel):
    upload_id: str = Field(examples=["u_9f3k2LmQx7"])
    method: str = Field(description="Always POST: a multipart/form-data form upload")
    url: str = Field(
        description="Where to POST the fields and then the file",
        examples=["https://bucket.s3.example.com/"],
    )
    fields: dict[str, str] = Field(
        description="Form fields to send as they are, before the file part named `file`"
    )
    expires_at: datetime = Field(description="Sending must start before this")
