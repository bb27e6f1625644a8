"""Lossless GIF re-packing, and the payload guard on every re-packed file."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageSequence

from pixstash.domain.formats import OutputFormat, SourceFormat
from pixstash.domain.variants import FULL, LARGE, THUMB
from pixstash.processing import gif
from pixstash.processing.engines import make_engine
from pixstash.processing.payload import carries_payload

PAYLOAD = b"<script>alert(1)</script>"


def _animation(durations: tuple[int, ...] = (40, 120, 60)) -> bytes:
    frames = [
        Image.new("RGB", (48, 32), colour).convert("P")
        for colour in ((255, 0, 0), (0, 255, 0), (0, 0, 255))
    ][: len(durations)]
    out = io.BytesIO()
    frames[0].save(
        out, "GIF", save_all=True, append_images=frames[1:], duration=list(durations), loop=3
    )
    return out.getvalue()


def _with_payloads(data: bytes) -> bytes:
    """Comment and XMP extensions before the first image, and bytes after the trailer."""
    comment = b"\x21\xfe" + bytes([len(PAYLOAD)]) + PAYLOAD + b"\x00"
    xmp = b"\x21\xff\x0bXMP DataXMP" + bytes([len(PAYLOAD)]) + PAYLOAD + b"\x00"
    first_image = data.index(b"\x21\xf9")  # the first graphic control extension
    return data[:first_image] + comment + xmp + data[first_image:] + PAYLOAD


def _frames(data: bytes) -> list[tuple[bytes, int]]:
    with Image.open(io.BytesIO(data)) as image:
        return [
            (frame.convert("RGB").tobytes(), frame.info["duration"])
            for frame in ImageSequence.Iterator(image)
        ]


def test_repack_keeps_frames_timing_and_loop_and_drops_the_rest() -> None:
    source = _animation()

    packed = gif.repack(_with_payloads(source))

    assert PAYLOAD not in packed.data
    assert b"XMP" not in packed.data
    assert (packed.width, packed.height, packed.frames) == (48, 32, 3)
    assert _frames(packed.data) == _frames(source)
    with Image.open(io.BytesIO(packed.data)) as image:
        assert image.info["loop"] == 3


@pytest.mark.parametrize(
    "damage",
    [
        lambda d: d[:-1],  # no trailer
        lambda d: d[: len(d) // 2],  # cut inside the data
        lambda d: b"PNG" + d[3:],  # not a GIF
        lambda d: d[:-1] + b"\x99\x3b",  # an unknown block
    ],
)
def test_damaged_gifs_are_refused(damage) -> None:
    with pytest.raises(gif.NotGif):
        gif.repack(damage(_animation()))


def test_engine_serves_the_full_gif_re_packed_without_decoding(samples, monkeypatch) -> None:
    path = samples.raw(_with_payloads(_animation()), ".gif")
    engine = make_engine("auto")

    def no_decode(*args: object, **kwargs: object) -> None:
        raise AssertionError("decoded")

    monkeypatch.setattr("pixstash.processing.pillow_engine.decode", no_decode)
    full, large = engine.render(
        path, SourceFormat.GIF, [(FULL, OutputFormat.GIF), (LARGE, OutputFormat.GIF)]
    )
    monkeypatch.undo()
    (thumb,) = engine.render(path, SourceFormat.GIF, [(THUMB, OutputFormat.GIF)])

    assert full is large  # 48x32 fits the large box: the same bytes
    assert full.frames == 3
    assert PAYLOAD not in full.data
    assert _frames(full.data) == _frames(_animation())
    assert PAYLOAD not in thumb.data


def test_text_in_a_colour_table_means_re_encoding(samples) -> None:
    image = Image.new("P", (40, 20))
    palette = list(PAYLOAD) + [0] * (768 - len(PAYLOAD))
    image.putpalette(palette)
    image.paste(3, (0, 0, 20, 20))
    path = samples.save(image, "GIF", optimize=False)
    assert PAYLOAD in path.read_bytes()

    (full,) = make_engine("auto").render(path, SourceFormat.GIF, [(FULL, OutputFormat.GIF)])

    assert not carries_payload(full.data)
    assert samples.open_rendered(full).size == (40, 20)


def test_text_in_a_jpeg_quantisation_table_means_re_encoding(samples) -> None:
    """A crafted DQT spells out markup; the lossless re-pack would keep it."""
    probe = samples.image_bytes(Image.new("RGB", (16, 16)), "JPEG", qtables=[list(range(1, 65))])
    start = probe.index(b"\xff\xdb") + 5
    stored_order = list(probe[start : start + 64])  # where each natural-order entry lands
    wanted = list(PAYLOAD[:8]) + [16] * 56
    natural = [0] * 64
    for position, entry in enumerate(stored_order):
        natural[entry - 1] = wanted[position]
    path = samples.save(
        Image.new("RGB", (64, 64), (200, 100, 50)), "JPEG", qtables=[natural, natural]
    )
    assert carries_payload(path.read_bytes())

    (full,) = make_engine("vips").render(path, SourceFormat.JPEG, [(FULL, OutputFormat.JPEG)])

    assert not carries_payload(full.data)
    assert samples.near(samples.open_rendered(full).getpixel((30, 30)), (200, 100, 50), 20)


@pytest.mark.parametrize(
    ("text", "found"),
    [
        (b"xx<SCRIPT>yy", True),
        (b"<?php echo 1;", True),
        (b"<svg onload=x>", True),
        (b"javascript:alert(1)", True),
        (b"<% <a <b x<=y", False),
        (b"GIF89a\x00\x01", False),
    ],
)
def test_payload_markers(text: bytes, found: bool) -> None:
    assert carries_payload(text) is found


def test_data_riding_in_kept_extensions_is_dropped() -> None:
    source = _animation()
    loop = source.index(b"NETSCAPE2.0") + 11  # its sub-block: 03 01 LL LL, then 00
    smuggled = bytes([len(PAYLOAD)]) + PAYLOAD
    hostile = source[: loop + 4] + smuggled + source[loop + 4 :]
    with Image.open(io.BytesIO(hostile)) as image:
        assert image.n_frames == 3  # decoders skip it

    packed = gif.repack(hostile)

    assert PAYLOAD not in packed.data
    assert _frames(packed.data) == _frames(source)
