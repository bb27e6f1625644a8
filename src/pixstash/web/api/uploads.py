"""``/api/v1/uploads``: direct uploads (start, send to the app's signed URL, complete)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from pixstash.errors import FileTooLarge
from pixstash.web.api.direct_body import read_signed_file
from pixstash.web.api.schemas import ErrorOut, ImageOut, UploadStart, UploadTicketOut
from pixstash.web.deps import ContainerDep, LinksDep, PrincipalDep
from pixstash.web.ratelimit import enforce_upload_limit

router = APIRouter(prefix="/api/v1", tags=["uploads"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut, "description": text}
    for status, text in {
        400: "Malformed request, empty file",
        401: "Bad or revoked Bearer token, or anonymous uploads are off",
        403: "Signed fields missing or altered (invalid-upload-signature)",
        404: "No such upload (upload-not-found)",
        409: "No file sent yet (upload-missing), refused earlier (upload-failed), being "
        "completed by another request (upload-in-progress: retry after Retry-After)",
        410: "The upload expired (upload-expired)",
        413: "File too large, or larger than declared",
        415: "Not an accepted image type",
        422: "Image refused (too many pixels, corrupt, malware)",
        429: "Too many uploads or token requests (rate-limited); see Retry-After",
        503: "A backend is unavailable",
    }.items()
}
_FORM_SLACK = 64 * 1024
_NO_STORE = {"Cache-Control": "no-store"}


@router.post(
    "/uploads",
    status_code=201,
    response_model=UploadTicketOut,
    responses=_ERRORS,
    summary="Start a direct upload",
)
async def start_upload(
    start: UploadStart, request: Request, container: ContainerDep, principal: PrincipalDep
) -> JSONResponse:
    """Answers where to send the file: POST ``fields`` and then the ``file`` part
    (multipart/form-data) to ``url``, then ``POST /api/v1/uploads/{upload_id}/complete``.
    With S3 storage ``url`` is the bucket (a presigned POST); otherwise this app."""
    await enforce_upload_limit(request, principal)  # counted here, not at complete
    ticket = await container.direct_uploads.start(
        filename=start.filename,
        content_type=start.content_type,
        size=start.size,
        title=start.title,
        description=start.description,
        owner_id=principal.user_id if principal else None,
        visibility=start.visibility,
        expires_in=start.expires_in,
    )
    session = ticket.session
    url = ticket.url
    if url is None:
        base = container.settings.public_url or str(request.base_url).rstrip("/")
        url = f"{base}/api/v1/uploads/{session.id}/data"
    out = UploadTicketOut(
        upload_id=session.id,
        method="POST",
        url=url,
        fields=ticket.fields,
        expires_at=session.expires_at,
    )
    return JSONResponse(out.model_dump(mode="json"), status_code=201, headers=_NO_STORE)


@router.post(
    "/uploads/{upload_id}/data",
    status_code=204,
    responses=_ERRORS,
    summary="Send the file of a direct upload (local storage)",
)
async def receive_upload_data(
    upload_id: str, request: Request, container: ContainerDep
) -> Response:
    """The app's own upload URL, used when the storage cannot take uploads directly:
    multipart/form-data with the signed ``fields``, then the ``file`` part. The size
    declared at the start is enforced while the file streams in."""
    declared = request.headers.get("content-length")
    max_body = container.settings.max_upload_bytes + _FORM_SLACK
    if declared and declared.isdigit() and int(declared) > max_body:
        raise FileTooLarge(
            f"The request is larger than {max_body // (1024 * 1024)} MB; send a smaller file."
        )
    service = container.direct_uploads
    staged = await read_signed_file(
        request.headers.get("content-type", ""),
        request.stream(),
        container.staging,
        lambda fields: service.authorize(upload_id, fields),
    )
    await service.receive(upload_id, staged)
    return Response(status_code=204)


@router.post(
    "/uploads/{upload_id}/complete",
    status_code=201,
    response_model=ImageOut,
    responses=_ERRORS,
    summary="Complete a direct upload: the image is created",
)
async def complete_upload(upload_id: str, container: ContainerDep, links: LinksDep) -> JSONResponse:
    """Checks the sent file and creates the image, answering as ``POST /api/v1/images``
    does. Idempotent: completing again answers the same image and delete token."""
    done = await container.direct_uploads.complete(upload_id)
    out = ImageOut.build(done.uploaded.image, links, done.uploaded.delete_token)
    return JSONResponse(
        out.model_dump(mode="json"),
        status_code=201,
        headers={"Location": out.links.page, **_NO_STORE},
    )
