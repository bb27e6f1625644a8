"""API models of albums."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from pixstash.domain.albums import Album
from pixstash.domain.model import Image, Visibility
from pixstash.services.links import LinkBuilder
from pixstash.web.api.schemas import ImageOut


class AlbumCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(None, max_length=10_000, examples=["Holidays"])
    description: str | None = Field(None, max_length=100_000)
    visibility: Visibility = Field(
        Visibility.UNLISTED, description="private needs an account (private-needs-account)"
    )
    ids: list[str] = Field(
        default_factory=list,
        max_length=1000,
        description="Images to put in it, in order: yours (owner or admin), or anonymous "
        "ones whose delete token is in deletehashes",
        examples=[["aB3dE5f", "Zx9Yw8v"]],
    )
    deletehashes: list[str] = Field(
        default_factory=list,
        max_length=1000,
        description="Delete tokens of images (Imgur's deletehashes): each proves you may "
        "add that image, and adds it",
    )
    cover: str | None = Field(None, description="One of the album's images")


class AlbumEdit(BaseModel):
    """Fields to change; a field left out stays as it is, null clears a title,
    description or cover."""

    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(None, max_length=10_000)
    description: str | None = Field(None, max_length=100_000)
    visibility: Visibility | None = None
    cover: str | None = None


class AlbumImagesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ids: list[str] = Field(default_factory=list, max_length=1000, examples=[["aB3dE5f", "Zx9Yw8v"]])
    deletehashes: list[str] = Field(
        default_factory=list,
        max_length=1000,
        description="Delete tokens of anonymous images to add (each adds its image)",
    )


class AlbumLinks(BaseModel):
    page: str
    zip: str = Field(description="The full-size images as one zip, streamed")


class AlbumOut(BaseModel):
    id: str = Field(examples=["Qw3rTy7"])
    title: str | None
    description: str | None
    visibility: Visibility
    cover: str | None = Field(description="Id of the cover image; null: the first image")
    image_count: int
    created_at: datetime
    updated_at: datetime
    links: AlbumLinks
    images: list[ImageOut] | None = Field(
        None, description="In album order (GET of one album); others' private images omitted"
    )
    delete_token: str | None = Field(
        None,
        description="Anonymous albums only, in the creation answer only: send it as "
        "X-Delete-Token to change or delete the album",
    )

    @classmethod
    def build(
        cls,
        album: Album,
        links: LinkBuilder,
        *,
        images: list[Image] | None = None,
        delete_token: str | None = None,
    ) -> AlbumOut:
        page = links.album_page(album.id)
        cover, count = album.cover_image_id, album.image_count
        if images is not None:  # what this caller may see: no hidden cover, no hidden count
            count = len(images)
            if cover not in {image.id for image in images}:
                cover = None
        return cls(
            id=album.id,
            title=album.title,
            description=album.description,
            visibility=album.visibility,
            cover=cover,
            image_count=count,
            created_at=album.created_at,
            updated_at=album.updated_at,
            links=AlbumLinks(page=page, zip=f"{page}/zip"),
            images=None if images is None else [ImageOut.build(i, links) for i in images],
            delete_token=delete_token,
        )


class AlbumList(BaseModel):
    albums: list[AlbumOut]
