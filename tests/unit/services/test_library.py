"""Cursors of "My images": opaque, round-tripping, and refused when forged."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest

from pixstash.domain.formats import SourceFormat
from pixstash.domain.model import Image, ImageStatus, Visibility
from pixstash.errors import InvalidCursor
from pixstash.services.library import decode_cursor, encode_cursor


def image(created_at: datetime, public_id: str = "aB3dE5f") -> Image:
    return Image(
        id=public_id,
        blob_hash="0" * 64,
        format=SourceFormat.PNG,
        width=1,
        height=1,
        frames=1,
        size=1,
        title=None,
        description=None,
        visibility=Visibility.UNLISTED,
        status=ImageStatus.READY,
        created_at=created_at,
        delete_token_hash="x",
    )


def test_a_cursor_is_the_key_of_the_last_image() -> None:
    when = datetime(2026, 12, 14, 10, 0, 0, 123456, tzinfo=UTC)
    cursor = encode_cursor(image(when))
    assert "=" not in cursor
    assert decode_cursor(cursor) == (when, "aB3dE5f")


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b"[]",
        b'["2026-12-14T10:00:00+00:00"]',
        b'["2026-12-14T10:00:00", "aB3dE5f"]',  # naive: not one of ours
        b'["yesterday", "aB3dE5f"]',
        b'["2026-12-14T10:00:00+00:00", "../../x"]',
        b'["2026-12-14T10:00:00+00:00", 7]',
    ],
)
def test_forged_cursors_are_refused(raw: bytes) -> None:
    cursor = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    with pytest.raises(InvalidCursor):
        decode_cursor(cursor)
    with pytest.raises(InvalidCursor):
        decode_cursor("%%%")
