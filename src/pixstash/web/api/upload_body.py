"""Reading an upload request body into staged files, streaming.

Multipart bodies go through python-multipart's push parser: ``image`` file parts are
written to staging files as the bytes arrive (the size limit is enforced on the way);
small text fields (``title``, ``description``) are collected. Any other body is one
raw image.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from pixstash.errors import BadRequest, EmptyUpload, FileTooLarge, PixstashError, TooManyFiles
from pixstash.services.staging import StagedFile, StagedWriter, StagingArea

IMAGE_FIELDS = frozenset({"image", "image[]", "file", "files", "files[]"})
TEXT_FIELDS = frozenset({"title", "description", "name", "visibility", "expires_in", "type", "url"})
MAX_FIELD_BYTES = 16 * 1024
MAX_HEADER_BYTES = 8 * 1024


@dataclass
class UploadBody:
    files: list[StagedFile] = field(default_factory=list)
    fields: dict[str, str] = field(default_factory=dict)

    def discard(self) -> None:
        for staged in self.files:
            staged.discard()


class MultipartCollector:
    text_fields: frozenset[str] = TEXT_FIELDS
    no_file_message = "No 'image' file part in the multipart body."

    def __init__(self, staging: StagingArea, max_files: int) -> None:
        self.staging = staging
        self.max_files = max_files
        self.body = UploadBody()
        self.writer: StagedWriter | None = None
        self.field_name: str | None = None
        self.field_data = bytearray()
        self.header_name = bytearray()
        self.header_value = bytearray()
        self.disposition = b""
        self.header_bytes = 0
        self.finished: list[StagedWriter] = []
        self.total = 0
        self.max_total = staging.max_bytes * max_files + MAX_FIELD_BYTES * len(self.text_fields)

    def callbacks(self) -> dict[str, object]:
        return {
            "on_part_begin": self.on_part_begin,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
            "on_header_field": self.on_header_field,
            "on_header_value": self.on_header_value,
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
        }

    def on_part_begin(self) -> None:
        self.writer, self.field_name, self.disposition = None, None, b""
        self.field_data.clear()
        self.header_bytes = 0

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._count_header(end - start)
        self.header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._count_header(end - start)
        self.header_value += data[start:end]

    def _count_header(self, n: int) -> None:
        self.header_bytes += n
        if self.header_bytes > MAX_HEADER_BYTES:
            raise BadRequest("A multipart part has oversized headers.")

    def on_header_end(self) -> None:
        if bytes(self.header_name).lower() == b"content-disposition":
            self.disposition = bytes(self.header_value)
        self.header_name.clear()
        self.header_value.clear()

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self.disposition)
        name = options.get(b"name", b"").decode("utf-8", "replace")
        if self.is_file_part(name, b"filename" in options):
            if len(self.body.files) + len(self.finished) >= self.max_files:
                raise TooManyFiles(f"At most {self.max_files} images per request.")
            filename = options.get(b"filename", b"").decode("utf-8", "replace")
            self.writer = self.open_file(filename)
        else:
            self.field_name = name

    def is_file_part(self, name: str, has_filename: bool) -> bool:
        return (name in IMAGE_FIELDS and has_filename) or name in ("image", "image[]")

    def open_file(self, filename: str) -> StagedWriter:
        return self.staging.open(filename)

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        self.total += end - start
        if self.total > self.max_total:
            raise FileTooLarge("The request body is too large; send fewer or smaller files.")
        if self.writer is not None:
            self.writer.write(data[start:end])
        elif self.field_name in self.text_fields:
            self.field_data += data[start:end]
            if len(self.field_data) > MAX_FIELD_BYTES:
                raise BadRequest(f"The field {self.field_name!r} is too long.")
        # other fields are ignored (their bytes still stream past)

    def on_part_end(self) -> None:
        if self.writer is not None:
            self.finished.append(self.writer)  # finished (written out) by the async side
            self.writer = None
        elif self.field_name in self.text_fields:
            self.body.fields[self.field_name] = self.field_data.decode("utf-8", "replace")

    async def finish_parts(self) -> None:
        while self.finished:
            self.body.files.append(await self.finished[0].finish())
            self.finished.pop(0)

    def abort(self) -> None:
        for writer in (self.writer, *self.finished):
            if writer is not None:
                writer.discard()
        self.body.discard()


async def read_upload_body(
    content_type: str,
    stream: AsyncIterator[bytes],
    staging: StagingArea,
    *,
    max_files: int,
) -> UploadBody:
    """Stage every image of the request; on any error nothing is left on disk."""
    mime, params = parse_options_header(content_type)
    if mime == b"multipart/form-data":
        return await _read_multipart(params, stream, staging, max_files)
    if mime == b"application/x-www-form-urlencoded":
        raise BadRequest(
            "Send the image as multipart/form-data or as the raw request body; "
            "base64 form uploads are served by the Imgur-compatible API."
        )
    writer = staging.open(None)
    try:
        async for chunk in stream:
            writer.write(chunk)
    except BaseException:
        writer.discard()
        raise
    staged = await writer.finish()  # discards its file itself if it fails
    if staged.size == 0:
        staged.discard()
        raise EmptyUpload()
    return UploadBody(files=[staged])


async def _read_multipart(
    params: dict[bytes, bytes],
    stream: AsyncIterator[bytes],
    staging: StagingArea,
    max_files: int,
) -> UploadBody:
    return await read_multipart(params, stream, MultipartCollector(staging, max_files))


async def read_multipart(
    params: dict[bytes, bytes],
    stream: AsyncIterator[bytes],
    collector: MultipartCollector,
) -> UploadBody:
    """Feed the body to ``collector`` as it arrives; on any error nothing is left on disk."""
    boundary = params.get(b"boundary")
    if not boundary:
        raise BadRequest("The multipart body has no boundary parameter.")
    try:
        parser = MultipartParser(boundary, collector.callbacks())  # type: ignore[arg-type]
        async for chunk in stream:
            parser.write(chunk)
            await collector.finish_parts()
        parser.finalize()
        await collector.finish_parts()
    except PixstashError:
        collector.abort()
        raise
    except FormParserError as exc:
        collector.abort()
        raise BadRequest("The multipart body is malformed.") from exc
    except BaseException:
        collector.abort()
        raise
    if collector.writer is not None:  # body ended inside a file part
        collector.abort()
        raise BadRequest("The multipart body ended in the middle of a file.")
    if not collector.body.files and "url" not in collector.body.fields:  # url: upload by link
        raise EmptyUpload(collector.no_file_message)
    return collector.body
