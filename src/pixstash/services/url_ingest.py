"""Uploading from a link: fetch the image into the staging area through the ``Fetcher``
port (which refuses private addresses, redirects too far and oversized bodies), then
ingest it exactly as an uploaded file (same validation, dedup, variants, stripping)."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from pixstash.errors import EmptyUpload, UnsupportedMediaType
from pixstash.security.base import Fetcher
from pixstash.services.staging import StagingArea
from pixstash.services.uploads import Uploaded, UploadMeta, UploadService


class UrlIngestService:
    def __init__(self, fetcher: Fetcher, staging: StagingArea, uploads: UploadService) -> None:
        self.fetcher = fetcher
        self.staging = staging
        self.uploads = uploads

    async def ingest(self, url: str, meta: UploadMeta) -> Uploaded:
        """Fetch ``url`` and upload it; on any refusal nothing is stored or left staged."""
        writer = self.staging.open(_file_name(url))
        try:
            fetched = await self.fetcher.fetch(url, writer, max_bytes=self.staging.max_bytes)
        except BaseException:
            writer.discard()
            raise
        staged = await writer.finish()  # discards its file itself if it fails
        try:
            return await self.uploads.ingest_one(staged, meta)
        except EmptyUpload as exc:
            raise EmptyUpload("The link answered with an empty body; link to the image.") from exc
        except UnsupportedMediaType as exc:
            declared = fetched.content_type or "no content type"
            raise UnsupportedMediaType(
                f"The link answered with {declared}, not an accepted image type; link to "
                "the image itself (JPEG, PNG, GIF, WebP, AVIF, BMP or TIFF), not to a page "
                "that shows it."
            ) from exc


def _file_name(url: str) -> str | None:
    """The last path segment, as a label only (it decides nothing)."""
    try:
        path = urlsplit(url).path
    except ValueError:
        return None
    return unquote(path.rsplit("/", 1)[-1]) or None
