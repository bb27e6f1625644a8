"""``/api/v1/me``: who am I, my images, my API tokens, a ShareX uploader config; and the
administrator's ``/api/v1/admin`` endpoints."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse

from pixstash.errors import SessionRequired
from pixstash.services.accounts import SHAREX_TOKEN_NAME
from pixstash.services.library import PAGE_DEFAULT, PAGE_MAX
from pixstash.web.api.account_schemas import (
    ImagePageOut,
    MeOut,
    TokenCreate,
    TokenCreatedOut,
    TokenList,
    TokenOut,
)
from pixstash.web.api.schemas import ErrorOut, ImageOut
from pixstash.web.auth import check_not_from_other_sites
from pixstash.web.deps import ContainerDep, LinksDep, RequireUserDep

router = APIRouter(prefix="/api/v1", tags=["accounts"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut, "description": text}
    for status, text in {
        400: "Malformed request (invalid-request, invalid-cursor)",
        401: "Not logged in (authentication-required) or a bad bearer token (invalid-token)",
        403: "Cookie-authenticated change without our Origin or X-CSRF-Token (csrf-failed); "
        "not an administrator (admin-required)",
        404: "No such token or user",
    }.items()
}
_NO_STORE = {"Cache-Control": "no-store"}


@router.get("/me", response_model=MeOut, responses=_ERRORS, summary="The logged-in user")
async def who_am_i(principal: RequireUserDep) -> MeOut:
    return MeOut.build(principal)


@router.get(
    "/me/images",
    response_model=ImagePageOut,
    responses=_ERRORS,
    summary="My images, newest first (keyset pagination)",
)
async def my_images(
    principal: RequireUserDep,
    container: ContainerDep,
    links: LinksDep,
    limit: Annotated[int, Query(ge=1, le=PAGE_MAX)] = PAGE_DEFAULT,
    cursor: Annotated[str | None, Query(max_length=200, description="next_cursor")] = None,
) -> ImagePageOut:
    """Pages follow ``next_cursor``; images uploaded meanwhile neither repeat nor skip."""
    page = await container.library.list_owned(principal.user_id, limit=limit, cursor=cursor)
    return ImagePageOut(
        images=[ImageOut.build(image, links) for image in page.images],
        next_cursor=page.next_cursor,
    )


@router.post(
    "/me/tokens",
    status_code=201,
    response_model=TokenCreatedOut,
    responses=_ERRORS,
    summary="Create a personal API token (shown once)",
)
async def create_token(
    body: TokenCreate, principal: RequireUserDep, container: ContainerDep
) -> JSONResponse:
    """Logged in on the web only: an API token cannot create tokens (a stolen one could
    otherwise outlive its revocation)."""
    if principal.token_id is not None:
        raise SessionRequired()
    created = await container.accounts.create_token(principal.user_id, body.name)
    out = TokenCreatedOut(**TokenOut.build(created.info).model_dump(), token=created.token)
    return JSONResponse(out.model_dump(mode="json"), status_code=201, headers=_NO_STORE)


@router.get(
    "/me/tokens", response_model=TokenList, responses=_ERRORS, summary="My API tokens (not revoked)"
)
async def list_tokens(principal: RequireUserDep, container: ContainerDep) -> TokenList:
    tokens = await container.accounts.list_tokens(principal.user_id)
    return TokenList(tokens=[TokenOut.build(token) for token in tokens])


@router.delete(
    "/me/tokens/{token_id}", status_code=204, responses=_ERRORS, summary="Revoke an API token"
)
async def revoke_token(
    token_id: int, principal: RequireUserDep, container: ContainerDep
) -> Response:
    await container.accounts.revoke_token(principal.user_id, token_id)
    return Response(status_code=204)


_SXCU_EXAMPLE = {
    "Version": "14.0.0",
    "Name": "pixstash (pix.example.com)",
    "DestinationType": "ImageUploader, FileUploader",
    "RequestMethod": "POST",
    "RequestURL": "https://pix.example.com/api/v1/images",
    "Headers": {"Authorization": "Bearer pxs_..."},
    "Body": "MultipartFormData",
    "FileFormName": "image",
    "URL": "{json:links.page}",
    "ThumbnailURL": "{json:links.thumb}",
    "DeletionURL": "{json:links.delete}",
    "ErrorMessage": "{json:error.message}",
}


@router.get(
    "/sharex.sxcu",
    responses={200: {"content": {"application/json": {"example": _SXCU_EXAMPLE}}}, **_ERRORS},
    summary="A ShareX custom uploader config, with a fresh API token",
)
async def sharex_config(
    request: Request, principal: RequireUserDep, container: ContainerDep, links: LinksDep
) -> Response:
    """Each download creates a new token named "ShareX" (revoke old ones on /me/tokens).
    Import it in ShareX: Destinations > Custom uploader settings > Import. With the
    session cookie, a download started by another site is refused (403 csrf-failed)."""
    check_not_from_other_sites(request)
    if principal.token_id is not None:  # it creates a token: web sessions only
        raise SessionRequired()
    created = await container.accounts.create_token(principal.user_id, SHAREX_TOKEN_NAME)
    host = links.base.split("://", 1)[-1]
    config = {
        "Version": "14.0.0",
        "Name": f"pixstash ({host})",
        "DestinationType": "ImageUploader, FileUploader",
        "RequestMethod": "POST",
        "RequestURL": f"{links.base}/api/v1/images",
        "Headers": {"Authorization": f"Bearer {created.token}"},
        "Body": "MultipartFormData",
        "FileFormName": "image",
        "URL": "{json:links.page}",
        "ThumbnailURL": "{json:links.thumb}",
        "DeletionURL": "{json:links.delete}",
        "ErrorMessage": "{json:error.message}",
    }
    filename = "pixstash-" + "".join(c if c.isalnum() or c in ".-" else "-" for c in host)
    return Response(
        json.dumps(config, indent=2),
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}.sxcu"',
            **_NO_STORE,
        },
    )


@router.post(
    "/admin/users/{user_id}/disable",
    status_code=204,
    responses=_ERRORS,
    summary="Disable a user (administrators)",
    tags=["admin"],
)
async def disable_user(
    user_id: int, principal: RequireUserDep, container: ContainerDep
) -> Response:
    """Ends the user's web sessions and revokes their API tokens at once; their images stay."""
    await container.accounts.disable_user(principal, user_id)
    return Response(status_code=204)
