"""Reading Imgur uploads as they stream: base64 and percent-escapes cut anywhere by the
chunking decode the same; links are told from base64; nothing stays staged on errors."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

import pytest

from pixstash.errors import BadRequest, EmptyUpload, FileTooLarge
from pixstash.services.staging import StagingArea
from pixstash.web.imgur.upload_form import read_imgur_upload

pytestmark = pytest.mark.anyio

FORM = "application/x-www-form-urlencoded"
DATA = bytes(range(256)) * 40 + b"tail"  # every byte value; not a multiple of 3


async def chunked(body: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


def multipart(value: str, boundary: str = "b0und") -> tuple[str, bytes]:
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="title"\r\n\r\nT\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="image"\r\n\r\n{value}\r\n'
        f"--{boundary}--\r\n"
    ).encode()
    return f"multipart/form-data; boundary={boundary}", body


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 4096])
async def test_base64_cut_anywhere_decodes_the_same(tmp_path: Path, size: int) -> None:
    staging = StagingArea(tmp_path, max_bytes=1 << 20)
    encoded = base64.b64encode(DATA).decode()
    form = ("title=T&image=" + quote(encoded, safe="")).encode()
    for content_type, body in ((FORM, form), multipart(base64.encodebytes(DATA).decode())):
        read = await read_imgur_upload(content_type, chunked(body, size), staging)
        assert read.fields["title"] == "T"
        assert read.files[0].path.read_bytes() == DATA
        read.discard()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("size", [1, 3, 4096])
async def test_links_are_told_from_base64(tmp_path: Path, size: int) -> None:
    staging = StagingArea(tmp_path, max_bytes=1 << 20)
    link = "https://example.com/a%20cat.jpg?x=1"
    body = ("image=" + quote(link, safe="") + "&type=url").encode()
    read = await read_imgur_upload(FORM, chunked(body, size), staging)
    assert (read.fields["url"], read.files) == (link, [])
    content_type, body = multipart("  HTTP://example.com/x.png")
    read = await read_imgur_upload(content_type, chunked(body, size), staging)
    assert read.fields["url"] == "HTTP://example.com/x.png"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"image=QUJD%3DREVG", BadRequest),  # padding in the middle
        (b"image=A", BadRequest),  # one character is no byte
        (b"image=data%3Aimage%2Fpng%3Bbase64", BadRequest),  # no comma
        (b"title=x", EmptyUpload),
        (b"image=" + b"QUFB" * 400, FileTooLarge),
        (b"image=QUFB&image=QUFB", BadRequest),
    ],
)
async def test_refusals_leave_nothing_staged(
    tmp_path: Path, body: bytes, error: type[Exception]
) -> None:
    staging = StagingArea(tmp_path, max_bytes=1000)
    with pytest.raises(error):
        await read_imgur_upload(FORM, chunked(body, 5), staging)
    assert list(tmp_path.iterdir()) == []
