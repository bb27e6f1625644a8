"""Reading an Imgur upload (``POST /3/image``, ``/3/upload``), streaming.

The ``image`` field is a file, base64 or a link, in a multipart/form-data or a
form-urlencoded body. A multipart part with a file name (or a non-text Content-Type)
is the file's bytes, staged as they arrive (``web.api.upload_body``'s collector). Any
other ``image`` value is read as it arrives too: when it starts with ``http://`` or
``https://`` it is a link (kept as text, at most ``MAX_LINK_BYTES``); otherwise it is
base64 (standard or URL-safe alphabet, padding optional, whitespace and a
``data:<mime>;base64,`` prefix allowed), decoded into the staging file chunk by chunk.
Nothing is held in memory twice, and the staging size limit applies to the decoded
bytes. ``type`` (file | base64 | url) is checked against what arrived, never needed.
"""

from __future__ import annotations

import binascii
from base64 import b64decode
from collections.abc import AsyncIterator
from urllib.parse import unquote_plus, unquote_to_bytes

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import QuerystringParser, parse_options_header

from pixstash.errors import (
    BadRequest,
    EmptyUpload,
    FileTooLarge,
    InvalidUrl,
    PixstashError,
    UnsupportedMediaType,
)
from pixstash.services.staging import StagedWriter, StagingArea
from pixstash.web.api.upload_body import (
    MAX_FIELD_BYTES,
    MultipartCollector,
    UploadBody,
    read_multipart,
)

TEXT_FIELDS = frozenset({"title", "description", "name", "type", "album", "album_id"})
TYPES = frozenset({"", "file", "base64", "url"})
MAX_LINK_BYTES = 4096
_SNIFF_BYTES = 8
_DATA_URI_MAX = 256  # "data:image/png;base64," and the like
_WHITESPACE = b" \t\r\n"
_URLSAFE = bytes.maketrans(b"-_", b"+/")
NO_IMAGE = "No image: send the 'image' field (a file, base64 data or an http(s) URL)."
NO_VIDEO = (
    "Video uploads are not supported by pixstash; upload an image (JPEG, PNG, GIF, WebP, "
    "AVIF, BMP or TIFF). Animated GIFs are served as MP4 too."
)


class _PercentDecoder:
    """Form-urlencoded bytes to raw bytes, across chunk boundaries. A literal '+' stays
    '+': base64 has no spaces, and clients that forget to escape it mean the '+'."""

    def __init__(self) -> None:
        self._carry = b""

    def feed(self, data: bytes) -> bytes:
        data = self._carry + data
        cut = data.find(b"%", max(0, len(data) - 2))  # an escape cut by the chunk's end
        if cut == -1:
            self._carry = b""
        else:
            data, self._carry = data[:cut], data[cut:]
        return unquote_to_bytes(data)

    def end(self) -> bytes:
        tail, self._carry = self._carry, b""
        return unquote_to_bytes(tail)


class ImageValueWriter(StagedWriter):
    """The value of a non-file ``image`` field: a link, or base64 decoded as it arrives."""

    def __init__(self, area: StagingArea, *, percent_encoded: bool = False) -> None:
        super().__init__(area, None)
        self.kind: str | None = None  # "link" | "base64", once the first bytes are seen
        self._head = bytearray()
        self._pending = bytearray()  # base64 characters not decoded yet (fewer than 4)
        self._link = bytearray()
        self._in_prefix = False  # inside a data: URI's "data:...," prefix
        self._percent = _PercentDecoder() if percent_encoded else None

    def write(self, data: bytes) -> None:
        if self._percent is not None:
            data = self._percent.feed(data)
        if self.kind is None:
            self._head += data
            if len(self._head.lstrip(_WHITESPACE)) < _SNIFF_BYTES and len(self._head) < 4096:
                return
            data = self._decide()
        self._take(data)

    def end_value(self) -> None:
        """The value is complete: decide what it was and decode its last characters."""
        tail = self._percent.end() if self._percent is not None else b""
        if self.kind is None:
            self._head += tail
            tail = self._decide()
        self._take(tail)
        if self.kind == "base64":
            if self._in_prefix:
                raise BadRequest("The image's data: URI has no ',' before its base64 data.")
            if self._pending:
                self._pending += b"=" * (-len(self._pending) % 4)
                self._decode_pending(final=True)

    @property
    def link(self) -> str | None:
        return self._link.decode("utf-8", "replace").strip() if self.kind == "link" else None

    def _decide(self) -> bytes:
        head = bytes(self._head).lstrip(_WHITESPACE)
        self._head.clear()
        if head[:8].lower().startswith((b"http://", b"https://")):
            self.kind = "link"
        else:
            self.kind = "base64"
            self._in_prefix = head[:5].lower() == b"data:"
        return head

    def _take(self, data: bytes) -> None:
        if not data:
            return
        if self.kind == "link":
            self._link += data
            if len(self._link) > MAX_LINK_BYTES:
                raise InvalidUrl(f"The image URL is longer than {MAX_LINK_BYTES} bytes.")
            return
        if self._in_prefix:
            self._link += data  # the prefix, bounded
            comma = self._link.find(b",")
            if comma == -1:
                if len(self._link) > _DATA_URI_MAX:
                    raise BadRequest("The image's data: URI prefix is too long.")
                return
            data = bytes(self._link[comma + 1 :])
            self._link.clear()
            self._in_prefix = False
        self._pending += data.translate(_URLSAFE, _WHITESPACE)
        self._decode_pending(final=False)

    def _decode_pending(self, *, final: bool) -> None:
        # the last quad waits for the end: only it may carry "=" padding
        usable = len(self._pending) - (0 if final else 4)
        usable -= usable % 4
        if usable <= 0:
            return
        chunk = bytes(self._pending[:usable])
        del self._pending[:usable]
        try:
            decoded = b64decode(chunk, validate=True)
        except (binascii.Error, ValueError):
            raise _bad_base64() from None
        super().write(decoded)


def _bad_base64() -> BadRequest:
    return BadRequest(
        "The image is neither a file, an http(s) URL nor valid base64; send the file's "
        "bytes base64-encoded (with type=base64), a file part, or a link (type=url)."
    )


class ImgurMultipartCollector(MultipartCollector):
    text_fields = TEXT_FIELDS
    no_file_message = NO_IMAGE

    def __init__(self, staging: StagingArea) -> None:
        super().__init__(staging, max_files=1)
        self.part_type = b""
        # base64 is a third larger than the bytes it carries
        self.max_total = staging.max_bytes * 4 // 3 + 4096 + MAX_FIELD_BYTES * len(TEXT_FIELDS)

    def on_part_begin(self) -> None:
        super().on_part_begin()
        self.part_type = b""

    def on_header_end(self) -> None:
        if bytes(self.header_name).lower() == b"content-type":
            self.part_type = bytes(self.header_value).strip().lower()
        super().on_header_end()

    def is_file_part(self, name: str, has_filename: bool) -> bool:
        if name == "video":
            raise UnsupportedMediaType(NO_VIDEO)
        return name == "image"

    def open_file(self, filename: str) -> StagedWriter:
        if filename or (self.part_type and not self.part_type.startswith(b"text/")):
            return self.staging.open(filename)  # the file's own bytes
        return ImageValueWriter(self.staging)

    async def finish_parts(self) -> None:
        while self.finished:
            writer = self.finished[0]
            if isinstance(writer, ImageValueWriter):
                writer.end_value()
                if writer.link is not None:
                    self.body.fields["url"] = writer.link
                    writer.discard()
                    self.finished.pop(0)
                    continue
            self.body.files.append(await writer.finish())
            self.finished.pop(0)


class _FormCollector:
    """Form-urlencoded fields, streamed: ``image`` into an ``ImageValueWriter``, the
    small text fields collected (each at most ``MAX_FIELD_BYTES``), others skipped."""

    def __init__(self, staging: StagingArea) -> None:
        self.staging = staging
        self.body = UploadBody()
        self.name = bytearray()
        self.value = bytearray()
        self.image: ImageValueWriter | None = None
        self.writing_image = False
        self.total = 0
        self.max_total = staging.max_bytes * 2 + MAX_FIELD_BYTES * len(TEXT_FIELDS)  # %-escaped

    def callbacks(self) -> dict[str, object]:
        return {
            "on_field_start": self.on_field_start,
            "on_field_name": self.on_field_name,
            "on_field_data": self.on_field_data,
            "on_field_end": self.on_field_end,
        }

    def on_field_start(self) -> None:
        self.name.clear()
        self.value.clear()
        self.writing_image = False

    def on_field_name(self, data: bytes, start: int, end: int) -> None:
        self.name += data[start:end]
        if len(self.name) > 64:
            raise BadRequest("A form field name is too long.")

    def _field(self) -> str:
        return unquote_plus(self.name.decode("utf-8", "replace"))

    def on_field_data(self, data: bytes, start: int, end: int) -> None:
        self.total += end - start
        if self.total > self.max_total:
            limit_mb = self.staging.max_bytes / (1024 * 1024)
            raise _too_large(limit_mb)
        if not self.writing_image and not self.value:
            name = self._field()
            if name == "video":
                raise UnsupportedMediaType(NO_VIDEO)
            if name in ("image", "image[]"):
                if self.image is not None:
                    raise BadRequest("Send one 'image' per request.")
                self.image = ImageValueWriter(self.staging, percent_encoded=True)
                self.writing_image = True
        if self.writing_image:
            assert self.image is not None
            self.image.write(data[start:end])
        elif self._field() in TEXT_FIELDS:
            self.value += data[start:end]
            if len(self.value) > MAX_FIELD_BYTES * 3:
                raise BadRequest(f"The field {self._field()!r} is too long.")

    def on_field_end(self) -> None:
        name = self._field()
        if name == "video":
            raise UnsupportedMediaType(NO_VIDEO)
        if name in ("image", "image[]") and self.image is None:
            self.image = ImageValueWriter(self.staging, percent_encoded=True)  # empty
        if self.writing_image or name in ("image", "image[]"):
            return
        if name in TEXT_FIELDS:
            self.body.fields[name] = unquote_plus(self.value.decode("utf-8", "replace"))

    def abort(self) -> None:
        if self.image is not None:
            self.image.discard()
        self.body.discard()


def _too_large(limit_mb: float) -> PixstashError:
    return FileTooLarge(f"The image is larger than {limit_mb:g} MB; upload a smaller file.")


async def _read_form(stream: AsyncIterator[bytes], staging: StagingArea) -> UploadBody:
    collector = _FormCollector(staging)
    try:
        parser = QuerystringParser(collector.callbacks())  # type: ignore[arg-type]
        async for chunk in stream:
            parser.write(chunk)
        parser.finalize()
        image = collector.image
        if image is None:
            raise EmptyUpload(NO_IMAGE)
        image.end_value()
        if image.link is not None:
            collector.body.fields["url"] = image.link
            image.discard()
        else:
            collector.body.files.append(await image.finish())
    except FormParserError as exc:
        collector.abort()
        raise BadRequest("The form body is malformed.") from exc
    except BaseException:
        collector.abort()
        raise
    return collector.body


async def read_imgur_upload(
    content_type: str, stream: AsyncIterator[bytes], staging: StagingArea
) -> UploadBody:
    """The image (a staged file, or a link in ``fields["url"]``) and the text fields; on
    any error nothing is left on disk."""
    mime, params = parse_options_header(content_type)
    if mime == b"multipart/form-data":
        body = await read_multipart(params, stream, ImgurMultipartCollector(staging))
    elif mime == b"application/x-www-form-urlencoded":
        body = await _read_form(stream, staging)
    else:
        raise BadRequest(
            "Send the upload as multipart/form-data or application/x-www-form-urlencoded "
            "with an 'image' field (a file, base64 data or an http(s) URL)."
        )
    try:
        check_type(body)
    except BaseException:
        body.discard()
        raise
    return body


def check_type(body: UploadBody) -> None:
    """``type``, when sent, must agree with what the ``image`` field turned out to be."""
    declared = body.fields.get("type", "").strip().lower()
    if declared not in TYPES:
        raise BadRequest(f"type is file, base64 or url, not {declared[:32]!r}.")
    is_link = "url" in body.fields
    if declared == "url" and not is_link:
        raise InvalidUrl("type is url, but the image field is not an http(s) URL.")
    if declared in ("file", "base64") and is_link:
        raise BadRequest(f"type is {declared}, but the image field is a URL; send type=url.")
