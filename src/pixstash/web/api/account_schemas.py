"""API models of accounts: tokens, "My images" pages, image edits."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from pixstash.domain.accounts import TOKEN_NAME_MAX, ApiToken, Principal
from pixstash.web.api.schemas import ImageOut


class MeOut(BaseModel):
    id: int
    username: str = Field(examples=["ada"])
    is_admin: bool

    @classmethod
    def build(cls, principal: Principal) -> MeOut:
        return cls(id=principal.user_id, username=principal.username, is_admin=principal.is_admin)


class ImagePageOut(BaseModel):
    images: list[ImageOut]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page.",
        examples=["WyIyMDI2LTEyLTE0VDEwOjAwOjAwKzAwOjAwIiwiYUIzZEU1ZiJd"],
    )


class ImageEdit(BaseModel):
    """Fields to change; a field left out stays as it is, null clears it."""

    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(None, max_length=10_000, examples=["Sunset over the bay"])
    description: str | None = Field(None, max_length=100_000)
    visibility: str | None = Field(
        None,
        max_length=16,
        description="public, unlisted or private (images with an owner only)",
        examples=["public"],
    )


class TokenCreate(BaseModel):
    name: str = Field(min_length=1, max_length=TOKEN_NAME_MAX, examples=["laptop script"])


class TokenOut(BaseModel):
    id: int
    name: str = Field(examples=["laptop script"])
    prefix: str = Field(
        description="The token's first characters, to recognise it", examples=["pxs_3q2-"]
    )
    created_at: datetime
    last_used_at: datetime | None = Field(
        description="Updated at most every few minutes, not on every request"
    )

    @classmethod
    def build(cls, token: ApiToken) -> TokenOut:
        return cls(
            id=token.id,
            name=token.name,
            prefix=token.prefix,
            created_at=token.created_at,
            last_used_at=token.last_used_at,
        )


class TokenCreatedOut(TokenOut):
    token: str = Field(
        description="Shown once, here only: send as `Authorization: Bearer <token>`",
        examples=["pxs_3q2-7wVn0yS8...."],
    )


class TokenList(BaseModel):
    tokens: list[TokenOut]
