"""``/api/v1/images``: upload, info, delete."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import JSONResponse

from pixstash.errors import BadRequest, FileTooLarge, RateLimited
from pixstash.services.library import PAGE_DEFAULT, PAGE_MAX
from pixstash.services.uploads import UploadMeta, upload_options
from pixstash.web.api.account_schemas import ImageEdit, ImagePageOut
from pixstash.web.api.schemas import ErrorOut, ImageList, ImageOut
from pixstash.web.api.upload_body import read_upload_body
from pixstash.web.api.url_body import LinkUpload, is_link_body, read_link_body
from pixstash.web.deps import ContainerDep, LinksDep, PrincipalDep
from pixstash.web.ratelimit import enforce_upload_limit

router = APIRouter(prefix="/api/v1", tags=["images"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut, "description": text}
    for status, text in {
        400: "Malformed request; invalid-visibility, invalid-expiry, private-needs-account "
        "(anonymous images cannot be private)",
        401: "Bad bearer token (invalid-token); anonymous uploads are off "
        "(authentication-required)",
        403: "Wrong delete token (invalid-delete-token), not the owner (not-image-owner), "
        "cookie-authenticated change from another origin (csrf-failed)",
        404: "No such image",
        413: "File too large",
        415: "Not an accepted image type",
        422: "Image refused (too many pixels, corrupt, malware); a link to a refused "
        "address, or one that could not be fetched (network, timeout, HTTP error, redirects)",
        429: "Too many uploads or token requests (rate-limited); see Retry-After",
        503: "A backend is unavailable",
    }.items()
}
_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "image": {
                            "type": "array",
                            "items": {"type": "string", "format": "binary"},
                            "description": "One or more image files",
                        },
                        "title": {"type": "string", "maxLength": 255},
                        "description": {"type": "string"},
                        "visibility": {
                            "type": "string",
                            "enum": ["public", "unlisted", "private"],
                            "description": "Default unlisted; private needs an account",
                        },
                        "expires_in": {
                            "type": "string",
                            "enum": ["1h", "1d", "7d", "30d"],
                            "description": "The image disappears after this; default never",
                        },
                        "url": {
                            "type": "string",
                            "description": "A link to fetch the image from, instead of files",
                        },
                    },
                }
            },
            "application/json": {"schema": LinkUpload.model_json_schema()},
            "image/*": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}
_MULTIPART_SLACK = 64 * 1024


@router.post(
    "/images",
    status_code=201,
    response_model=ImageOut | ImageList,
    responses=_ERRORS,
    openapi_extra=_UPLOAD_BODY,
    summary="Upload one or more images",
)
async def upload_images(
    request: Request,
    container: ContainerDep,
    links: LinksDep,
    principal: PrincipalDep,
    title: str | None = None,
    description: str | None = None,
    visibility: Annotated[str | None, Query(max_length=16)] = None,
    expires_in: Annotated[str | None, Query(max_length=16)] = None,
) -> JSONResponse:
    """Multipart (one or several ``image`` parts, optional ``title``, ``description``,
    ``visibility`` and ``expires_in`` fields) or the raw image as the body (the fields as
    query parameters); or a link to fetch: JSON ``{"url", "title", "description",
    "visibility", "expires_in"}``, or a ``url`` field (multipart or form-urlencoded).
    Validated by content, never by name or type. One image answers with the image;
    several answer with ``{"images": [...]}``."""
    settings = container.settings
    owner_id = principal.user_id if principal else None  # a logged-in uploader owns them
    container.uploads.check_uploader(owner_id)  # before reading a byte
    upload_options(visibility, expires_in, owner_id=owner_id)  # so are the query's options
    await enforce_upload_limit(request, principal)  # so is the rate limit (429)
    declared = request.headers.get("content-length")
    max_total = settings.max_upload_bytes * settings.max_files_per_request + _MULTIPART_SLACK
    if declared and declared.isdigit() and int(declared) > max_total:
        raise FileTooLarge(
            f"The request is larger than {max_total // (1024 * 1024)} MB; send smaller files."
        )
    content_type = request.headers.get("content-type", "")
    if is_link_body(content_type):
        link = await read_link_body(content_type, request.stream())
        chosen, lifetime = upload_options(
            link.visibility or visibility, link.expires_in or expires_in, owner_id=owner_id
        )
        meta = UploadMeta(
            title=link.title or title,
            description=link.description or description,
            owner_id=owner_id,
            visibility=chosen,
            expires_in=lifetime,
        )
        uploaded = [await container.url_ingest.ingest(link.url, meta)]
    else:
        body = await read_upload_body(
            content_type,
            request.stream(),
            container.staging,
            max_files=settings.max_files_per_request,
        )
        try:
            chosen, lifetime = upload_options(
                body.fields.get("visibility", visibility),
                body.fields.get("expires_in", expires_in),
                owner_id=owner_id,
            )
        except BadRequest:
            body.discard()
            raise
        meta = UploadMeta(
            title=body.fields.get("title", title),
            description=body.fields.get("description", description),
            owner_id=owner_id,
            visibility=chosen,
            expires_in=lifetime,
        )
        url = body.fields.get("url")
        if url is not None and body.files:
            body.discard()
            raise BadRequest("Send image files or a 'url', not both in one request.")
        if url is not None:
            uploaded = [await container.url_ingest.ingest(url, meta)]
        else:
            try:  # the first file was counted before the body; now the others (429)
                await enforce_upload_limit(request, principal, len(body.files) - 1)
            except RateLimited:
                body.discard()
                raise
            uploaded = await container.uploads.ingest(body.files, meta)
    out = [ImageOut.build(u.image, links, u.delete_token) for u in uploaded]
    payload: ImageOut | ImageList = out[0] if len(out) == 1 else ImageList(images=out)
    return JSONResponse(
        payload.model_dump(mode="json"),
        status_code=201,
        headers={"Location": out[0].links.page, "Cache-Control": "no-store"},
    )


@router.get("/images/{image_id}", response_model=ImageOut, responses=_ERRORS, summary="Image info")
async def get_image(
    image_id: str, container: ContainerDep, links: LinksDep, principal: PrincipalDep
) -> JSONResponse:
    """A private image is found by its owner and administrators only (404 for others);
    its media links are then short-lived signed URLs, so the answer is not cached."""
    image = await container.images.get(image_id, principal)
    out = ImageOut.build(image, links)
    private = image.visibility.value == "private"
    headers = {"Cache-Control": "private, no-store"} if private else {}
    return JSONResponse(out.model_dump(mode="json"), headers=headers)


@router.get(
    "/images",
    response_model=ImagePageOut,
    responses=_ERRORS,
    summary="Recent public images, newest first (keyset pagination)",
)
async def list_images(
    container: ContainerDep,
    links: LinksDep,
    scope: Annotated[Literal["recent"], Query(description="Only recent for now")] = "recent",
    limit: Annotated[int, Query(ge=1, le=PAGE_MAX)] = PAGE_DEFAULT,
    cursor: Annotated[str | None, Query(max_length=200, description="next_cursor")] = None,
) -> ImagePageOut:
    """Public images only (unlisted and private ones never appear), without expired ones.
    Your own images of every visibility: ``GET /api/v1/me/images``."""
    page = await container.library.list_recent(limit=limit, cursor=cursor)
    return ImagePageOut(
        images=[ImageOut.build(image, links) for image in page.images],
        next_cursor=page.next_cursor,
    )


@router.get(
    "/recent", response_model=ImagePageOut, responses=_ERRORS, summary="= GET /images?scope=recent"
)
async def recent_images(
    container: ContainerDep,
    links: LinksDep,
    limit: Annotated[int, Query(ge=1, le=PAGE_MAX)] = PAGE_DEFAULT,
    cursor: Annotated[str | None, Query(max_length=200, description="next_cursor")] = None,
) -> ImagePageOut:
    return await list_images(container, links, "recent", limit, cursor)


@router.delete("/images/{image_id}", status_code=204, responses=_ERRORS, summary="Delete an image")
async def delete_image(
    image_id: str,
    container: ContainerDep,
    principal: PrincipalDep,
    x_delete_token: Annotated[str | None, Header()] = None,
) -> Response:
    """By the image's owner or an administrator (bearer token or web session), or with
    the ``delete_token`` from the upload response in ``X-Delete-Token``."""
    await container.images.delete(image_id, x_delete_token, principal=principal)
    return Response(status_code=204)


@router.patch(
    "/images/{image_id}",
    response_model=ImageOut,
    responses=_ERRORS,
    summary="Change an image's title, description or visibility",
)
async def edit_image(
    image_id: str,
    edit: ImageEdit,
    container: ContainerDep,
    links: LinksDep,
    principal: PrincipalDep,
    x_delete_token: Annotated[str | None, Header()] = None,
) -> ImageOut:
    """By the owner or an administrator, or with ``X-Delete-Token`` (anonymous
    uploads). Fields left out stay; ``null`` clears a title or description. Only images
    with an owner can become private (400 private-needs-account); making one private
    takes it off the public media path at once (see docs/API.md for caches)."""
    image = await container.library.update_text(
        image_id,
        edit.model_dump(exclude_unset=True),
        principal=principal,
        delete_token=x_delete_token,
    )
    return ImageOut.build(image, links)
