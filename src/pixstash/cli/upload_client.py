"""A client of pixstash's direct-upload API, as every client uses it: start, send, complete.

It talks HTTP only (no service, database or storage code), so it works against any
pixstash server whatever its storage: the file goes to the ``url`` the server answers,
the S3 bucket's presigned POST or the app's own signed URL. The API token goes to the
pixstash server only, never to that URL (it is signed; S3 refuses stray credentials).

Retries follow what the API promises: 429 and 503 (and a proxy's 502/504) after
``Retry-After`` or a bounded backoff, ``409 upload-in-progress`` on completion, and
connection errors. Every other refusal is final and shown with its code and message.
"""

from __future__ import annotations

import email.utils
import io
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, cast
from urllib.parse import quote

import httpx

from pixstash.domain.formats import sniff

DEFAULT_SERVER = "http://127.0.0.1:8000"
RETRYABLE_STATUS = frozenset({429, 502, 503, 504})
RATE_LIMIT_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")
UNKNOWN_TYPE = "application/octet-stream"  # not an image we know: the server decides
_SNIFF_BYTES = 64

Progress = Callable[[int], None]  # called with the bytes of the file sent so far


class UploadFailed(Exception):
    """A request refused, or given up on after retries: shown as ``status code: message``."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code

    def __str__(self) -> str:
        prefix = " ".join(str(part) for part in (self.status, self.code) if part is not None)
        return f"{prefix}: {self.message}" if prefix else self.message

    def as_json(self) -> dict[str, Any]:
        return {"status": self.status, "code": self.code, "message": self.message}


class ServerUnreachable(UploadFailed):
    """No connection could be made at all, after retries: other files would fail too."""


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5  # per request, the first one included
    first_delay: float = 0.5  # backoff doubles from here ...
    max_delay: float = 8.0  # ... up to this
    max_retry_after: float = 60.0  # a longer Retry-After is reported, not waited for
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)

    def delay(self, attempt: int, response: httpx.Response | None) -> float | None:
        """Seconds to wait after failed attempt ``attempt`` (1-based), or None: give up."""
        if attempt >= self.attempts:
            return None
        backoff = min(self.first_delay * 2.0 ** (attempt - 1), self.max_delay)
        asked = retry_after(response) if response is not None else None
        if asked is None:
            return backoff
        return asked if asked <= self.max_retry_after else None


def retry_after(response: httpx.Response) -> float | None:
    """``Retry-After`` in seconds (delta-seconds or an HTTP date), None when absent."""
    value = response.headers.get("Retry-After", "").strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def is_retryable(response: httpx.Response) -> bool:
    if response.status_code in RETRYABLE_STATUS:
        return True
    return response.status_code == 409 and error_code(response) == "upload-in-progress"


def error_code(response: httpx.Response) -> str | None:
    return _pixstash_error(response)[0]


def _pixstash_error(response: httpx.Response) -> tuple[str | None, str | None]:
    try:
        error = response.json()["error"]
        return str(error["code"]), str(error["message"])
    except (ValueError, KeyError, TypeError):
        return None, None


def failure(response: httpx.Response, what: str) -> UploadFailed:
    """The refusal of a response, from pixstash's error JSON, S3's error XML or the text."""
    code, message = _pixstash_error(response)
    if code is None or message is None:  # not pixstash speaking: S3, or a proxy
        text = response.text
        s3_code = re.search(r"<Code>([^<]*)</Code>", text)
        s3_message = re.search(r"<Message>([^<]*)</Message>", text)
        code = s3_code.group(1) if s3_code else None
        detail = s3_message.group(1) if s3_message else (text.strip()[:300] or "no details")
        message = f"{what}: {detail}"
    if response.status_code == 429:
        message = f"{message} ({rate_limit_note(response)})"
    wait = retry_after(response)
    if wait is not None and response.status_code in (429, 503):
        message = f"{message}; retry after {wait:.0f} s"
    return UploadFailed(message, status=response.status_code, code=code)


def rate_limit_note(response: httpx.Response) -> str:
    shown = [
        f"{name} {response.headers[name]}"
        for name in RATE_LIMIT_HEADERS
        if name in response.headers
    ]
    return ", ".join(shown) or "no X-RateLimit headers"


def content_type_of(path: Path) -> str:
    """The image type by the file's first bytes (never its name); unknown types are sent
    as octet-stream for the server to refuse with its own code and message."""
    with path.open("rb") as file:
        fmt = sniff(file.read(_SNIFF_BYTES))
    return fmt.mime if fmt is not None else UNKNOWN_TYPE


class _ProgressReader(io.RawIOBase):
    """The file, reporting each read: httpx's multipart encoder reads the file part in
    64 KiB chunks as it sends them, so the bytes reported follow the body on the wire. A
    retried send seeks back to 0 and the count starts again."""

    def __init__(self, file: BinaryIO, progress: Progress) -> None:
        super().__init__()
        self._file = file
        self._progress = progress
        self._sent = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        count = self._file.readinto(buffer)  # type: ignore[attr-defined]
        assert isinstance(count, int)
        self._sent += count
        self._progress(self._sent)
        return count

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        position = self._file.seek(offset, whence)
        if whence == os.SEEK_SET:  # httpx measures the length with SEEK_END: not progress
            self._sent = position
            self._progress(position)
        return position

    def tell(self) -> int:
        return self._file.tell()


class DirectUploadClient:
    """Uploads files to one pixstash server; thread-safe (one instance serves a pool)."""

    def __init__(
        self,
        server: str,
        token: str | None = None,
        policy: RetryPolicy | None = None,
        timeout: float = 60.0,
    ) -> None:
        self.server = server.rstrip("/")
        self.policy = policy or RetryPolicy()
        limits = httpx.Timeout(timeout, connect=10.0)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.api = httpx.Client(base_url=self.server, headers=headers, timeout=limits)
        self.storage = httpx.Client(timeout=limits)  # the signed upload URL: no credentials

    def close(self) -> None:
        self.api.close()
        self.storage.close()

    def __enter__(self) -> DirectUploadClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def upload(self, path: Path, progress: Progress | None = None) -> dict[str, Any]:
        """Start, send and complete one file; returns the image JSON (links, delete token)."""
        size = path.stat().st_size
        content_type = content_type_of(path)
        start = {"filename": path.name, "content_type": content_type, "size": size}
        ticket = self._expect(
            "start", lambda: self.api.post("/api/v1/uploads", json=start), ok=(200, 201)
        ).json()
        with path.open("rb") as file:
            body = _ProgressReader(file, progress or (lambda _sent: None))
            self._expect(
                "send",
                lambda: self.storage.request(
                    ticket.get("method", "POST"),
                    ticket["url"],
                    data=ticket["fields"],
                    files={"file": (path.name, cast(BinaryIO, body), content_type)},
                ),
                ok=(200, 201, 204),
            )
        upload_id = quote(str(ticket["upload_id"]), safe="")
        image: dict[str, Any] = self._expect(
            "complete",
            lambda: self.api.post(f"/api/v1/uploads/{upload_id}/complete"),
            ok=(200, 201),
        ).json()
        return image

    def add_to_album(
        self,
        album: str,
        image_ids: list[str],
        album_token: str | None,
        *,
        image_tokens: list[str] | None = None,
    ) -> None:
        """``POST /api/v1/albums/{id}/images``: the album's token (anonymous albums) in
        X-Delete-Token; the images' delete tokens as ``deletehashes``, which prove that
        anonymous images are the uploader's (the server refuses others' images)."""
        headers = {"X-Delete-Token": album_token} if album_token else {}
        body: dict[str, list[str]] = {"ids": image_ids}
        if image_tokens:
            body["deletehashes"] = image_tokens
        try:
            self._expect(
                "album",
                lambda: self.api.post(
                    f"/api/v1/albums/{quote(album, safe='')}/images",
                    json=body,
                    headers=headers,
                ),
                ok=(200, 201, 204),
            )
        except UploadFailed as exc:
            if exc.code == "not-found":  # no such route, rather than album-not-found
                exc.message += " (this server has no albums API)"
            raise

    def _expect(
        self, what: str, send: Callable[[], httpx.Response], ok: tuple[int, ...]
    ) -> httpx.Response:
        response = self._retrying(what, send)
        if response.status_code not in ok:
            raise failure(response, what)
        return response

    def _retrying(self, what: str, send: Callable[[], httpx.Response]) -> httpx.Response:
        attempt = 0
        while True:
            attempt += 1
            response: httpx.Response | None = None
            try:
                response = send()
            except httpx.TransportError as exc:
                delay = self.policy.delay(attempt, None)
                if delay is None:
                    raise _gave_up(what, exc, attempt) from exc
            else:
                if not is_retryable(response):
                    return response
                delay = self.policy.delay(attempt, response)
                if delay is None:
                    return response  # the caller reports the last answer
            self.policy.sleep(delay)  # a client's backoff between attempts


def _gave_up(what: str, exc: httpx.TransportError, attempts: int) -> UploadFailed:
    where = exc.request.url.copy_with(query=None) if _has_request(exc) else "the server"
    tried = f"{attempts} attempt{'s' if attempts != 1 else ''}"
    if isinstance(exc, httpx.ConnectError):
        return ServerUnreachable(f"{what}: could not connect to {where} ({tried}): {exc}")
    return UploadFailed(f"{what}: {type(exc).__name__} talking to {where} ({tried}): {exc}")


def _has_request(exc: httpx.TransportError) -> bool:
    try:
        exc.request  # noqa: B018 - raises RuntimeError when the error has no request
    except RuntimeError:
        return False
    return True
