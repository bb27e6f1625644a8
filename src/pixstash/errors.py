"""The one error tree of pixstash.

Every error a client can see carries a stable, kebab-case ``code`` that clients may
match on, an HTTP ``status`` and a message that says what to do about it::

    PixstashError (500 internal-error)
    +-- BadRequest (400 invalid-request)
    |   +-- EmptyUpload (400 empty-upload)
    |   +-- TooManyFiles (400 too-many-files)
    +-- Unauthorized (401 unauthorized)
    +-- Forbidden (403 forbidden)
    |   +-- InvalidDeleteToken (403 invalid-delete-token)
    |   +-- InvalidUploadSignature (403 invalid-upload-signature)
    +-- NotFound (404 not-found)
    |   +-- ImageNotFound (404 image-not-found)
    |   +-- UploadNotFound (404 upload-not-found)
    +-- Conflict (409 conflict)
    |   +-- UploadMissing (409 upload-missing)
    |   +-- UploadFailed (409 upload-failed)
    |   +-- UploadInProgress (409 upload-in-progress, Retry-After)
    +-- UploadExpired (410 upload-expired)
    +-- FileTooLarge (413 file-too-large)
    +-- UnsupportedMediaType (415 unsupported-media-type)
    +-- ImageRejected (422 image-rejected)
    |   +-- ImageTooLarge (422 image-too-large)
    |   +-- ImageCorrupt (422 image-corrupt)
    +-- BlobMissing (500 blob-missing)
    +-- BackendUnavailable (503 backend-unavailable)
    |   +-- StorageUnavailable (503 backend-unavailable)
    |   +-- DatabaseUnavailable (503 backend-unavailable)
    |   +-- CacheUnavailable (503 backend-unavailable)
    |   +-- QueueUnavailable (503 backend-unavailable)
    +-- ConfigurationError (start-up only, never served)

Adapters translate vendor exceptions into these (``raise X(...) from exc``) so no
driver exception crosses a port.
"""

from __future__ import annotations

from typing import ClassVar


class PixstashError(Exception):
    code: ClassVar[str] = "internal-error"
    status: ClassVar[int] = 500
    default_message: ClassVar[str] = "Something went wrong on our side; try again later."

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.default_message
        super().__init__(self.message)


class BadRequest(PixstashError):
    code = "invalid-request"
    status = 400
    default_message = "The request is malformed; check the API documentation."


class EmptyUpload(BadRequest):
    code = "empty-upload"
    default_message = "The upload contained no image; send a non-empty 'image' part or body."


class TooManyFiles(BadRequest):
    code = "too-many-files"
    default_message = "Too many files in one request; send fewer images per request."


class Unauthorized(PixstashError):
    code = "unauthorized"
    status = 401
    default_message = "Authentication is required."


class Forbidden(PixstashError):
    code = "forbidden"
    status = 403
    default_message = "You are not allowed to do this."


class InvalidDeleteToken(Forbidden):
    code = "invalid-delete-token"
    default_message = "The delete token is missing or wrong; use the token returned at upload."


class NotFound(PixstashError):
    code = "not-found"
    status = 404
    default_message = "Nothing lives at this address."


class ImageNotFound(NotFound):
    code = "image-not-found"
    default_message = "No image has this id; it may have been deleted."


class InvalidUploadSignature(Forbidden):
    code = "invalid-upload-signature"
    default_message = (
        "The upload's signed fields are missing, altered or wrong; send them exactly as "
        "POST /api/v1/uploads returned them."
    )


class UploadNotFound(NotFound):
    code = "upload-not-found"
    default_message = "No upload has this id; start one with POST /api/v1/uploads."


class Conflict(PixstashError):
    code = "conflict"
    status = 409
    default_message = "The request conflicts with the current state; retry."


class UploadMissing(Conflict):
    code = "upload-missing"
    default_message = (
        "No file has been uploaded for this upload yet; POST the fields and the file to "
        "its url first, then complete it."
    )


class UploadInProgress(Conflict):
    code = "upload-in-progress"
    default_message = (
        "Another request is completing this upload right now; retry after the seconds of "
        "Retry-After."
    )
    retry_after: ClassVar[int] = 2


class UploadFailed(Conflict):
    code = "upload-failed"
    default_message = "This upload was refused earlier; start a new one."


class UploadExpired(PixstashError):
    code = "upload-expired"
    status = 410
    default_message = "This upload has expired; start a new one with POST /api/v1/uploads."


class FileTooLarge(PixstashError):
    code = "file-too-large"
    status = 413
    default_message = "The file is larger than this server accepts."


class UnsupportedMediaType(PixstashError):
    code = "unsupported-media-type"
    status = 415
    default_message = (
        "This is not an accepted image type; upload JPEG, PNG, GIF, WebP, AVIF, BMP or TIFF."
    )


class ImageRejected(PixstashError):
    code = "image-rejected"
    status = 422
    default_message = "The image was refused."


class ImageTooLarge(ImageRejected):
    code = "image-too-large"
    default_message = "The image has too many pixels; downscale it and upload again."


class ImageCorrupt(ImageRejected):
    code = "image-corrupt"
    default_message = "The image could not be decoded; it is damaged or truncated."


class BlobMissing(PixstashError):
    code = "blob-missing"
    default_message = "A stored object is missing; the operator should run `pixstash gc`."


class BackendUnavailable(PixstashError):
    code = "backend-unavailable"
    status = 503
    default_message = "A backend service is unavailable; retry shortly."
    retry_after: ClassVar[int] = 5


class StorageUnavailable(BackendUnavailable):
    default_message = "Blob storage is unavailable; retry shortly."


class DatabaseUnavailable(BackendUnavailable):
    default_message = "The database is unavailable; retry shortly."


class CacheUnavailable(BackendUnavailable):
    default_message = "The shared cache (Redis) is unavailable; retry shortly."


class QueueUnavailable(BackendUnavailable):
    default_message = "The job queue (RabbitMQ) is unavailable; retry shortly."


class ConfigurationError(PixstashError):
    code = "configuration-error"
    default_message = "The configuration is invalid."
