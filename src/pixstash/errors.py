"""The one error tree of pixstash.

Every error a client can see carries a stable, kebab-case ``code`` that clients may
match on, an HTTP ``status`` and a message that says what to do about it::

    PixstashError (500 internal-error)
    +-- BadRequest (400 invalid-request)
    |   +-- EmptyUpload (400 empty-upload)
    |   +-- TooManyFiles (400 too-many-files)
    |   +-- InvalidUrl (400 invalid-url)
    |   +-- InvalidUsername (400 invalid-username)
    |   +-- InvalidPassword (400 invalid-password)
    |   +-- InvalidCursor (400 invalid-cursor)
    |   +-- InvalidVisibility (400 invalid-visibility)
    |   +-- InvalidExpiry (400 invalid-expiry)
    |   +-- PrivateNeedsAccount (400 private-needs-account)
    |   +-- AlbumImagesMismatch (400 album-images-mismatch)
    +-- Unauthorized (401 unauthorized)
    |   +-- AuthenticationRequired (401 authentication-required)
    |   +-- InvalidToken (401 invalid-token)
    |   +-- InvalidCredentials (401 invalid-credentials)
    +-- Forbidden (403 forbidden)
    |   +-- InvalidDeleteToken (403 invalid-delete-token)
    |   +-- InvalidUploadSignature (403 invalid-upload-signature)
    |   +-- CsrfFailed (403 csrf-failed)
    |   +-- SessionRequired (403 session-required)
    |   +-- AccountDisabled (403 account-disabled)
    |   +-- RegistrationClosed (403 registration-closed)
    |   +-- NotImageOwner (403 not-image-owner)
    |   +-- AdminRequired (403 admin-required)
    |   +-- NotAlbumEditor (403 not-album-editor)
    +-- NotFound (404 not-found)
    |   +-- ImageNotFound (404 image-not-found)
    |   +-- UploadNotFound (404 upload-not-found)
    |   +-- UserNotFound (404 user-not-found)
    |   +-- TokenNotFound (404 token-not-found)
    |   +-- AlbumNotFound (404 album-not-found)
    +-- Conflict (409 conflict)
    |   +-- UsernameTaken (409 username-taken)
    |   +-- UploadMissing (409 upload-missing)
    |   +-- UploadFailed (409 upload-failed)
    |   +-- UploadInProgress (409 upload-in-progress, Retry-After)
    |   +-- ImageIdTaken (409 conflict; internal to direct uploads)
    +-- UploadExpired (410 upload-expired)
    +-- FileTooLarge (413 file-too-large)
    +-- UnsupportedMediaType (415 unsupported-media-type)
    +-- UrlForbidden (422 url-forbidden)
    +-- ImageRejected (422 image-rejected)
    |   +-- ImageTooLarge (422 image-too-large)
    |   +-- ImageCorrupt (422 image-corrupt)
    |   +-- MalwareDetected (422 malware-detected)
    +-- RateLimited (429 rate-limited, Retry-After)
    +-- BlobMissing (500 blob-missing)
    +-- UrlFetchFailed (422 url-fetch-failed)
    |   +-- TooManyRedirects (422 too-many-redirects)
    +-- BackendUnavailable (503 backend-unavailable)
    |   +-- StorageUnavailable (503 backend-unavailable)
    |   +-- DatabaseUnavailable (503 backend-unavailable)
    |   +-- CacheUnavailable (503 backend-unavailable)
    |   +-- QueueUnavailable (503 backend-unavailable)
    |   +-- ScannerUnavailable (503 scanner-unavailable)
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
    retry_after: int | None = None  # seconds, sent as Retry-After; None: no header

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


class InvalidUsername(BadRequest):
    code = "invalid-username"
    default_message = (
        "A username is 3 to 32 letters, digits, '.', '_' or '-', starting with a letter or digit."
    )


class InvalidPassword(BadRequest):
    code = "invalid-password"
    default_message = "A password has 8 to 1024 characters."


class InvalidCursor(BadRequest):
    code = "invalid-cursor"
    default_message = "The cursor is not one this server returned; start from the first page."


class InvalidVisibility(BadRequest):
    code = "invalid-visibility"
    default_message = "visibility is one of public, unlisted or private."


class InvalidExpiry(BadRequest):
    code = "invalid-expiry"
    default_message = "expires_in is one of 1h, 1d, 7d or 30d (or leave it out: never)."


class PrivateNeedsAccount(BadRequest):
    code = "private-needs-account"
    default_message = (
        "Only images and albums with an owner can be private; log in (or send a bearer "
        "token), or choose unlisted."
    )


class AlbumImagesMismatch(BadRequest):
    code = "album-images-mismatch"
    default_message = "A reorder lists every image of the album exactly once, and no other."


class Unauthorized(PixstashError):
    code = "unauthorized"
    status = 401
    default_message = "Authentication is required."


class AuthenticationRequired(Unauthorized):
    code = "authentication-required"
    default_message = (
        "Log in first: send 'Authorization: Bearer <api token>' or use the web session."
    )


class InvalidToken(Unauthorized):
    code = "invalid-token"
    default_message = (
        "The bearer token is unknown, revoked or its account disabled; create a new one."
    )


class InvalidCredentials(Unauthorized):
    code = "invalid-credentials"
    default_message = "Wrong username or password."


class Forbidden(PixstashError):
    code = "forbidden"
    status = 403
    default_message = "You are not allowed to do this."


class InvalidDeleteToken(Forbidden):
    code = "invalid-delete-token"
    default_message = "The delete token is missing or wrong; use the token returned at upload."


class SessionRequired(Forbidden):
    code = "session-required"
    default_message = (
        "An API token cannot create API tokens; log in on the web and create them on /me/tokens."
    )


class CsrfFailed(Forbidden):
    code = "csrf-failed"
    default_message = (
        "The form's security token is missing or stale; reload the page and try again."
    )


class AccountDisabled(Forbidden):
    code = "account-disabled"
    default_message = "This account is disabled; ask the administrator."


class RegistrationClosed(Forbidden):
    code = "registration-closed"
    default_message = "This server does not accept new accounts; ask the administrator."


class NotImageOwner(Forbidden):
    code = "not-image-owner"
    default_message = "Only the image's owner or an administrator can change it."


class AdminRequired(Forbidden):
    code = "admin-required"
    default_message = "Only an administrator can do this."


class NotAlbumEditor(Forbidden):
    code = "not-album-editor"
    default_message = (
        "Only the album's owner or an administrator, or the holder of its delete token "
        "(X-Delete-Token), can change it."
    )


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


class UserNotFound(NotFound):
    code = "user-not-found"
    default_message = "No user has this id or name."


class TokenNotFound(NotFound):
    code = "token-not-found"
    default_message = "You have no API token with this id."


class AlbumNotFound(NotFound):
    code = "album-not-found"
    default_message = "No album has this id; it may have been deleted."


class Conflict(PixstashError):
    code = "conflict"
    status = 409
    default_message = "The request conflicts with the current state; retry."


class UsernameTaken(Conflict):
    code = "username-taken"
    default_message = "This username is taken; choose another."


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
    retry_after = 2


class ImageIdTaken(Conflict):
    code = "conflict"
    default_message = "Another request stored this image at the same moment; retry."


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


class InvalidUrl(BadRequest):
    code = "invalid-url"
    default_message = "The link is not a valid http:// or https:// URL; send a link to an image."


class UrlForbidden(PixstashError):
    code = "url-forbidden"
    status = 422
    default_message = (
        "The link points at an address this server does not fetch from (a private, local "
        "or reserved network, or a port it does not use); link to a public web address."
    )


class UrlFetchFailed(PixstashError):
    """422, not 502: the link the client gave cannot be used; nothing is wrong with us."""

    code = "url-fetch-failed"
    status = 422
    default_message = "The image could not be fetched from the link; check it and try again."


class TooManyRedirects(UrlFetchFailed):
    code = "too-many-redirects"
    default_message = "The link redirects too often; link to the image itself."


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


class MalwareDetected(ImageRejected):
    code = "malware-detected"
    default_message = "The malware scanner refused this file; it was not stored."


class RateLimited(PixstashError):
    code = "rate-limited"
    status = 429
    default_message = "Too many requests; retry after the seconds of Retry-After."

    def __init__(self, message: str | None = None, *, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class BlobMissing(PixstashError):
    code = "blob-missing"
    default_message = "A stored object is missing; the operator should run `pixstash gc`."


class BackendUnavailable(PixstashError):
    code = "backend-unavailable"
    status = 503
    default_message = "A backend service is unavailable; retry shortly."
    retry_after = 5


class StorageUnavailable(BackendUnavailable):
    default_message = "Blob storage is unavailable; retry shortly."


class DatabaseUnavailable(BackendUnavailable):
    default_message = "The database is unavailable; retry shortly."


class CacheUnavailable(BackendUnavailable):
    default_message = "The shared cache (Redis) is unavailable; retry shortly."


class QueueUnavailable(BackendUnavailable):
    default_message = "The job queue (RabbitMQ) is unavailable; retry shortly."


class ScannerUnavailable(BackendUnavailable):
    code = "scanner-unavailable"
    default_message = "The malware scanner is unavailable; retry shortly."


class ConfigurationError(PixstashError):
    code = "configuration-error"
    default_message = "The configuration is invalid."
