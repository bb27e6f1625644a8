from __future__ import annotations

import pytest

from pixstash.domain.formats import OutputFormat, SourceFormat, default_output, sniff
from pixstash.domain.ids import (
    hash_token,
    is_public_id,
    new_delete_token,
    new_public_id,
    token_matches,
)
from pixstash.domain.variants import BIG_SQUARE, FULL, LARGE, THUMB, media_name, parse_media_name


@pytest.mark.parametrize(
    ("name", "suffix", "fmt"),
    [("aB3dE5f.jpg", "", "jpg"), ("aB3dE5ft.webp", "t", "webp"), ("aB3dE5fl.JPEG", "l", "jpg")],
)
def test_parse_media_name(name: str, suffix: str, fmt: str) -> None:
    parsed = parse_media_name(name)
    assert parsed is not None
    assert parsed.public_id == "aB3dE5f"
    assert parsed.variant.suffix == suffix
    assert parsed.output is OutputFormat(fmt)


@pytest.mark.parametrize("name", ["aB3dE5f", "aB3dE5fx.jpg", "aB3dE5f.svg", "ab.jpg", "../x.jpg"])
def test_parse_media_name_refuses(name: str) -> None:
    assert parse_media_name(name) is None


def test_media_name_round_trips() -> None:
    assert media_name("aB3dE5f", THUMB, OutputFormat.PNG) == "aB3dE5ft.png"


def test_target_sizes_never_upscale() -> None:
    assert LARGE.target_size(4000, 3000) == (640, 480)
    assert LARGE.target_size(300, 3000) == (64, 640)
    assert THUMB.target_size(100, 50) == (100, 50)
    assert FULL.target_size(123, 45) == (123, 45)
    assert BIG_SQUARE.target_size(4000, 3000) == (160, 160)
    assert BIG_SQUARE.target_size(100, 50) == (50, 50)


@pytest.mark.parametrize(
    ("head", "fmt"),
    [
        (b"\xff\xd8\xff\xe0" + b"\0" * 28, SourceFormat.JPEG),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 24, SourceFormat.PNG),
        (b"GIF89a" + b"\0" * 26, SourceFormat.GIF),
        (b"RIFF\0\0\0\0WEBPVP8 " + b"\0" * 16, SourceFormat.WEBP),
        (b"\0\0\0\x1cftypavif" + b"\0" * 20, SourceFormat.AVIF),
        (b"BM" + b"\0" * 30, SourceFormat.BMP),
        (b"II*\0" + b"\0" * 28, SourceFormat.TIFF),
        (b"<svg xmlns=" + b"\0" * 21, None),
        (b"GIF89a<?php", SourceFormat.GIF),  # a GIF header is a GIF; the decoder decides
        (b"", None),
    ],
)
def test_sniff_by_magic_bytes(head: bytes, fmt: SourceFormat | None) -> None:
    assert sniff(head) is fmt


def test_default_output_follows_source() -> None:
    assert default_output(SourceFormat.JPEG) is OutputFormat.JPEG
    assert default_output(SourceFormat.GIF) is OutputFormat.GIF
    assert default_output(SourceFormat.BMP) is OutputFormat.PNG


def test_ids_and_tokens() -> None:
    ids = {new_public_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(is_public_id(i) for i in ids)
    token = new_delete_token()
    assert len(token) >= 32
    assert token_matches(token, hash_token(token))
    assert not token_matches(token + "x", hash_token(token))
