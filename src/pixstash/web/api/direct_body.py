"""Reading a file sent to the app's own signed upload URL (local and memory storage).

The form is shaped like an S3 POST upload: the signed fields first, then the ``file``
part. The fields are checked when the file part begins, and its size limit (the size
declared for the upload) is enforced while it streams to the staging area.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping

from python_multipart.multipart import parse_options_header

from pixstash.errors import BadRequest
from pixstash.services.direct_uploads import SIGNED_FIELDS
from pixstash.services.staging import StagedFile, StagedWriter, StagingArea
from pixstash.web.api.upload_body import MultipartCollector, read_multipart

Authorize = Callable[[Mapping[str, str]], int]


class _SignedFileCollector(MultipartCollector):
    text_fields = frozenset(SIGNED_FIELDS)
    no_file_message = "No 'file' part in the multipart body; send it after the fields."

    def __init__(self, staging: StagingArea, authorize: Authorize) -> None:
        super().__init__(staging, max_files=1)
        self.authorize = authorize

    def is_file_part(self, name: str, has_filename: bool) -> bool:
        return name == "file"

    def open_file(self, filename: str) -> StagedWriter:
        max_bytes = self.authorize(self.body.fields)  # before a byte of the file is kept
        return self.staging.open(filename, max_bytes=max_bytes)


async def read_signed_file(
    content_type: str,
    stream: AsyncIterator[bytes],
    staging: StagingArea,
    authorize: Authorize,
) -> StagedFile:
    """``authorize`` checks the fields and returns how many bytes the file may have."""
    mime, params = parse_options_header(content_type)
    if mime != b"multipart/form-data":
        raise BadRequest("Send the fields and the file as multipart/form-data.")
    body = await read_multipart(params, stream, _SignedFileCollector(staging, authorize))
    return body.files[0]
