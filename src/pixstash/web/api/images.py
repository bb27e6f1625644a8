"""``/api/v1/images``: upload, info, delete."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Request, Response
from fastapi.responses import JSONResponse

from pixstash.errors import FileTooLarge
from pixstash.services.uploads import UploadMeta
from pixstash.web.api.schemas import ErrorOut, ImageList, ImageOut
from pixstash.web.api.upload_body import read_upload_body
from pixstash.web.deps import ContainerDep, LinksDep

router = APIRouter(prefix="/api/v1", tags=["images"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut, "description": text}
    for status, text in {
        400: "Malformed request",
        403: "Wrong delete token",
        404: "No such image",
        413: "File too large",
        415: "Not an accepted image type",
        422: "Image refused (too many pixels, corrupt)",
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
                    },
                    "required": ["image"],
                }
            },
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
    title: str | None = None,
    description: str | None = None,
) -> JSONResponse:
    """Multipart (one or several ``image`` parts, optional ``title`` and ``description``
    fields) or the raw image as the body. Validated by content, never by name or type.
    One image answers with the image; several answer with ``{"images": [...]}``."""
    settings = container.settings
    declared = request.headers.get("content-length")
    max_total = settings.max_upload_bytes * settings.max_files_per_request + _MULTIPART_SLACK
    if declared and declared.isdigit() and int(declared) > max_total:
        raise FileTooLarge(
            f"The request is larger than {max_total // (1024 * 1024)} MB; send smaller files."
        )
    body = await read_upload_body(
        request.headers.get("content-type", ""),
        request.stream(),
        container.staging,
        max_files=settings.max_files_per_request,
    )
    meta = UploadMeta(
        title=body.fields.get("title", title),
        description=body.fields.get("description", description),
    )
    uploaded = await container.uploads.ingest(body.files, meta)
    out = [ImageOut.build(u.image, links, u.delete_token) for u in uploaded]
    payload: ImageOut | ImageList = out[0] if len(out) == 1 else ImageList(images=out)
    return JSONResponse(
        payload.model_dump(mode="json"),
        status_code=201,
        headers={"Location": out[0].links.page, "Cache-Control": "no-store"},
    )


@router.get("/images/{image_id}", response_model=ImageOut, responses=_ERRORS, summary="Image info")
async def get_image(image_id: str, container: ContainerDep, links: LinksDep) -> ImageOut:
    image = await container.images.get(image_id)
    return ImageOut.build(image, links)


@router.delete("/images/{image_id}", status_code=204, responses=_ERRORS, summary="Delete an image")
async def delete_image(
    image_id: str,
    container: ContainerDep,
    x_delete_token: Annotated[str | None, Header()] = None,
) -> Response:
    """Needs the ``delete_token`` from the upload response in ``X-Delete-Token``."""
    await container.images.delete(image_id, x_delete_token)
    return Response(status_code=204)
