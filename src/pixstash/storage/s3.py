"""Blobs in an S3-compatible bucket (AWS S3, MinIO, Cloudflare R2, Ceph RGW) through boto3.

``s3://bucket[/prefix]?endpoint=http://host:9000&region=us-east-1`` with optional
``addressing=path|virtual``, ``connect_timeout``, ``read_timeout`` (seconds) and
``max_attempts``. Credentials come from the standard AWS chain (environment, config
files, instance or task roles), never from the URL. With an ``endpoint`` requests use
path-style addressing (what MinIO, Ceph and R2 expect); without one, AWS's virtual-hosted
style.

boto3 is synchronous: every call runs in a worker thread, at most ``max_connections`` at
once per store, so a burst waits in the event loop rather than opening unbounded sockets
or starving the thread pool the rest of the app shares. An async SDK would buy little:
S3 calls are network-bound and release the GIL, and aiobotocore pins exact botocore
releases, which would fight boto3's own pin. boto3 also brings the managed transfer that
uploads large objects in parallel parts.

A single PUT, like a completed multipart upload, is atomic on S3: readers see the old
object or the new one, never a mix. A multipart upload cut short by a crash stays
invisible until ``sweep_incomplete`` (or the bucket's lifecycle rule) aborts it.
"""

from __future__ import annotations

import io
import mimetypes
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import anyio
import anyio.to_thread
import boto3
from boto3.exceptions import Boto3Error
from boto3.s3.transfer import TransferConfig
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from pixstash.domain.formats import OutputFormat, SourceFormat
from pixstash.domain.model import INCOMING_PREFIX
from pixstash.errors import BlobMissing, ConfigurationError, StorageUnavailable
from pixstash.storage.base import PresignedPost, StoredObject, validate_key

T = TypeVar("T")

MIB = 1024 * 1024
MIN_PART_BYTES = 5 * MIB  # S3 refuses smaller parts, except the last one
MAX_PRESIGN_SECONDS = 7 * 24 * 3600  # the SigV4 limit
URL_OPTIONS = (
    "endpoint",
    "region",
    "addressing",
    "connect_timeout",
    "read_timeout",
    "max_attempts",
)
_MISSING = frozenset({"NoSuchKey", "NotFound", "404", "NoSuchUpload"})


class S3BlobStore:
    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint: str | None = None,
        region: str | None = None,
        addressing: str | None = None,
        connect_timeout: float = 5.0,
        read_timeout: float = 60.0,
        max_attempts: int = 3,
        max_connections: int = 16,
        multipart_threshold: int = 16 * MIB,
        transfer_concurrency: int = 4,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        # parts are as large as the threshold, and S3 refuses parts under 5 MiB
        self.multipart_threshold = max(multipart_threshold, MIN_PART_BYTES)
        addressing = addressing or ("path" if endpoint else "virtual")
        config = Config(
            region_name=region,
            signature_version="s3v4",
            s3={"addressing_style": addressing},
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            retries={"mode": "standard", "total_max_attempts": max_attempts},
            # each managed transfer may hold several connections at once
            max_pool_connections=max_connections * transfer_concurrency,
        )
        self._endpoint = endpoint
        self._config = config
        self._upload_origin: str | None = None
        # A session of our own: boto3's default session is not safe to share across threads.
        try:
            self._client: Any = boto3.session.Session().client(
                "s3", endpoint_url=endpoint, config=config
            )
        except BotoCoreError as exc:  # e.g. AWS_PROFILE names no profile
            raise ConfigurationError(f"Cannot set up the S3 client: {_describe(exc)}") from exc
        self._transfer = TransferConfig(
            multipart_threshold=self.multipart_threshold,
            multipart_chunksize=self.multipart_threshold,
            max_concurrency=transfer_concurrency,
            preferred_transfer_client="classic",
        )
        self._limiter = anyio.CapacityLimiter(max_connections)

    @classmethod
    def from_url(cls, url: str) -> S3BlobStore:
        parts = urlsplit(url)
        if parts.username or parts.password:
            raise ConfigurationError(
                "Credentials never go in the storage URL; use AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY, AWS_PROFILE or an instance role."
            )
        if not parts.hostname or len(parts.hostname) < 3:
            raise ConfigurationError(f"The storage URL {url!r} names no bucket: s3://bucket/...")
        query = {name: values[-1] for name, values in parse_qs(parts.query).items()}
        unknown = sorted(set(query) - set(URL_OPTIONS))
        if unknown:
            raise ConfigurationError(
                f"Unknown s3:// option(s) {', '.join(unknown)}; valid: {', '.join(URL_OPTIONS)}"
            )
        if query.get("addressing", "path") not in ("path", "virtual"):
            raise ConfigurationError("s3:// option addressing must be 'path' or 'virtual'.")
        endpoint = query.get("endpoint")
        if endpoint and urlsplit(endpoint).scheme not in ("http", "https"):
            raise ConfigurationError(f"s3:// endpoint {endpoint!r} must be an http(s) URL.")
        try:
            return cls(
                parts.hostname,
                parts.path,
                endpoint=endpoint,
                region=query.get("region"),
                addressing=query.get("addressing"),
                connect_timeout=float(query.get("connect_timeout", 5.0)),
                read_timeout=float(query.get("read_timeout", 60.0)),
                max_attempts=int(query.get("max_attempts", 3)),
            )
        except ValueError as exc:
            raise ConfigurationError(f"Invalid s3:// option: {exc}") from exc

    def _key(self, key: str) -> str:
        return self.prefix + validate_key(key)

    async def _run(self, func: Callable[..., T], *args: Any) -> T:
        return await anyio.to_thread.run_sync(func, *args, limiter=self._limiter)

    async def put_file(self, key: str, path: Path) -> None:
        """Above ``multipart_threshold`` bytes the managed transfer uploads parts in parallel."""
        name, extra = self._key(key), {"ContentType": content_type(key)}

        def upload() -> None:
            with _translated("store", key):
                self._client.upload_file(
                    str(path), self.bucket, name, ExtraArgs=extra, Config=self._transfer
                )

        await self._run(upload)

    async def put_bytes(self, key: str, data: bytes) -> None:
        name, kind = self._key(key), content_type(key)

        def upload() -> None:
            with _translated("store", key):
                if len(data) < self.multipart_threshold:
                    self._client.put_object(
                        Bucket=self.bucket, Key=name, Body=data, ContentType=kind
                    )
                else:
                    self._client.upload_fileobj(
                        io.BytesIO(data),
                        self.bucket,
                        name,
                        ExtraArgs={"ContentType": kind},
                        Config=self._transfer,
                    )

        await self._run(upload)

    async def get_bytes(self, key: str) -> bytes:
        name = self._key(key)

        def fetch() -> bytes:
            with _translated("read", key):
                body = self._client.get_object(Bucket=self.bucket, Key=name)["Body"]
                with body:
                    data: bytes = body.read()
                    return data

        return await self._run(fetch)

    async def read_head(self, key: str, length: int) -> bytes:
        """A ranged GET: enough to sniff magic bytes without fetching a large object."""
        name = self._key(key)

        def fetch() -> bytes:
            with _translated("read", key):
                body = self._client.get_object(
                    Bucket=self.bucket, Key=name, Range=f"bytes=0-{max(length, 1) - 1}"
                )["Body"]
                with body:
                    data: bytes = body.read()
                    return data[:length]

        return await self._run(fetch)

    async def download(self, key: str, dest: Path) -> None:
        """The managed transfer writes a temp file beside ``dest`` and renames it."""
        name = self._key(key)

        def fetch() -> None:
            with _translated("read", key):
                self._client.download_file(self.bucket, name, str(dest), Config=self._transfer)

        await self._run(fetch)

    async def stat(self, key: str) -> StoredObject | None:
        name = self._key(key)

        def head() -> StoredObject | None:
            try:
                with _translated("inspect", key):
                    meta = self._client.head_object(Bucket=self.bucket, Key=name)
            except BlobMissing:
                return None
            return StoredObject(key, meta["ContentLength"], meta["LastModified"])

        return await self._run(head)

    async def delete(self, key: str) -> None:
        name = self._key(key)

        def remove() -> None:
            with _translated("delete", key):  # S3 answers 204 for an absent key too
                self._client.delete_object(Bucket=self.bucket, Key=name)

        await self._run(remove)

    async def iter_objects(self, prefix: str = "") -> AsyncIterator[StoredObject]:
        """One listing page (up to 1000 keys) per thread call, yielded as it arrives."""
        request: dict[str, Any] = {"Bucket": self.bucket, "Prefix": self.prefix + prefix}
        while True:
            page = await self._run(self._list_page, dict(request))
            for item in page.get("Contents", []):
                yield StoredObject(
                    item["Key"][len(self.prefix) :], item["Size"], item["LastModified"]
                )
            if not page.get("IsTruncated"):
                return
            request["ContinuationToken"] = page["NextContinuationToken"]

    def _list_page(self, request: dict[str, Any]) -> dict[str, Any]:
        with _translated("list", request["Prefix"] or "the bucket"):
            page: dict[str, Any] = self._client.list_objects_v2(**request)
            return page

    def local_path(self, key: str) -> Path | None:
        return None

    async def sweep_incomplete(self, older_than_seconds: float) -> int:
        """Abort multipart uploads under our prefix started before the grace period."""
        cutoff = datetime.now(UTC) - timedelta(seconds=older_than_seconds)
        return await self._run(self._abort_stale_uploads, cutoff)

    def _abort_stale_uploads(self, cutoff: datetime) -> int:
        aborted = 0
        for upload in self._multipart_uploads():
            if upload["Initiated"] > cutoff:
                continue
            try:
                with _translated("abort upload of", upload["Key"]):
                    self._client.abort_multipart_upload(
                        Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                    )
            except BlobMissing:  # NoSuchUpload: completed or aborted by another server
                continue
            aborted += 1
        return aborted

    def _multipart_uploads(self) -> Iterator[dict[str, Any]]:
        request: dict[str, Any] = {"Bucket": self.bucket, "Prefix": self.prefix}
        while True:
            with _translated("list uploads in", self.prefix or "the bucket"):
                page = self._client.list_multipart_uploads(**request)
            yield from page.get("Uploads", [])
            if not page.get("IsTruncated"):
                return
            request["KeyMarker"] = page["NextKeyMarker"]
            request["UploadIdMarker"] = page["NextUploadIdMarker"]

    async def presigned_get(self, key: str, expires_seconds: int) -> str:
        """A URL anyone may GET for ``expires_seconds`` (for private media).

        Signing is local, but refreshing role credentials may touch the network: a thread.
        """
        if not 1 <= expires_seconds <= MAX_PRESIGN_SECONDS:
            raise ValueError(f"expires_seconds must be within 1..{MAX_PRESIGN_SECONDS}")
        params = {"Bucket": self.bucket, "Key": self._key(key)}

        def sign() -> str:
            with _translated("sign a link to", key):
                url: str = self._client.generate_presigned_url(
                    "get_object", Params=params, ExpiresIn=expires_seconds
                )
                return url

        return await self._run(sign)

    async def presigned_post(
        self, key: str, *, content_type: str, max_bytes: int, expires_seconds: int
    ) -> PresignedPost | None:
        """S3 itself enforces the policy: the key, the exact Content-Type, 1..max_bytes
        bytes, and the expiry. boto3 adds the bucket and key conditions."""
        if not 1 <= expires_seconds <= MAX_PRESIGN_SECONDS:
            raise ValueError(f"expires_seconds must be within 1..{MAX_PRESIGN_SECONDS}")
        name = self._key(key)

        def sign() -> PresignedPost:
            with _translated("sign an upload to", key):
                post: dict[str, Any] = self._client.generate_presigned_post(
                    Bucket=self.bucket,
                    Key=name,
                    Fields={"Content-Type": content_type},
                    Conditions=[
                        {"Content-Type": content_type},
                        ["content-length-range", 1, max_bytes],
                    ],
                    ExpiresIn=expires_seconds,
                )
                return PresignedPost(url=post["url"], fields=dict(post["fields"]))

        return await self._run(sign)

    def direct_upload_origin(self) -> str:
        """Where ``presigned_post`` sends browsers: the endpoint, or the bucket's own host
        with virtual-hosted addressing. boto3 decides; an unsigned client asks it the
        same way without needing credentials, and makes no request."""
        if self._upload_origin is None:
            unsigned = boto3.session.Session().client(
                "s3",
                endpoint_url=self._endpoint,
                config=self._config.merge(Config(signature_version=UNSIGNED)),
            )
            try:
                with _translated("sign an upload to", "the bucket"):
                    url = unsigned.generate_presigned_post(
                        Bucket=self.bucket, Key=self._key(INCOMING_PREFIX + "origin")
                    )["url"]
            finally:
                unsigned.close()
            parts = urlsplit(url)
            self._upload_origin = f"{parts.scheme}://{parts.netloc}"
        return self._upload_origin

    async def check(self) -> None:
        def probe() -> None:
            try:
                self._client.head_bucket(Bucket=self.bucket)
            except (ClientError, BotoCoreError) as exc:
                raise StorageUnavailable(
                    f"S3 bucket {self.bucket} is not usable: {_describe(exc)}"
                ) from exc

        await self._run(probe)

    async def close(self) -> None:
        await self._run(self._client.close)


def content_type(key: str) -> str:
    """The Content-Type stored with an object, from its key's extension."""
    ext = key.rsplit(".", 1)[-1].lower() if "." in key.rsplit("/", 1)[-1] else ""
    output = OutputFormat.from_extension(ext)
    if output is not None:
        return output.mime
    for source in SourceFormat:
        if source.extension == ext:
            return source.mime
    return mimetypes.guess_type(key)[0] or "application/octet-stream"


@contextmanager
def _translated(action: str, key: str) -> Iterator[None]:
    """Turn botocore and boto3 errors into ours: no vendor exception crosses the port.

    Besides outages and 5xx, a missing bucket or refused credentials also become
    StorageUnavailable: the store cannot serve until an operator acts, which a 503 and
    /readyz say best.
    """
    try:
        yield
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in _MISSING:
            raise BlobMissing(f"Blob {key} is missing.") from None
        raise StorageUnavailable(f"Could not {action} {key}: {_describe(exc)}") from exc
    except (BotoCoreError, Boto3Error) as exc:
        raise StorageUnavailable(f"Could not {action} {key}: {_describe(exc)}") from exc


def _describe(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "?")
        return f"{error.get('Code', 'error')} (HTTP {status})"
    return f"{type(exc).__name__}: {exc}"
