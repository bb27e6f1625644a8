"""JPEG structure: lossless re-packing, payload removal, decode-cost estimates."""

from __future__ import annotations

import io
import struct

import pytest
from PIL import Image

from pixstash.processing import jpeg

PAYLOAD = b"<html><script>alert(document.cookie)</script></html>"


def _photo(size: tuple[int, int] = (96, 64)) -> Image.Image:
    image = Image.linear_gradient("L").resize(size).convert("RGB")
    image.paste((200, 30, 40), (0, 0, size[0] // 3, size[1] // 3))
    return image


def _jpeg(image: Image.Image, **params: object) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", **params)
    return out.getvalue()


def _segment(marker: int, body: bytes) -> bytes:
    return struct.pack(">BBH", 0xFF, marker, len(body) + 2) + body


def _polyglot(data: bytes) -> bytes:
    """``data`` with the payload in a comment, an APP segment and after the EOI."""
    extra = _segment(jpeg.COM, PAYLOAD) + _segment(0xE5, b"XTRA\x00" + PAYLOAD)
    return data[:2] + extra + data[2:] + PAYLOAD


@pytest.mark.parametrize("progressive", [False, True])
def test_repack_keeps_every_pixel_and_drops_payloads(progressive: bool) -> None:
    exif = Image.Exif()
    exif[0x010E] = "GPS-SECRET"
    source = _jpeg(_photo(), quality=80, progressive=progressive, exif=exif.tobytes())
    hostile = _polyglot(source)

    info = jpeg.read_info(hostile)
    out = jpeg.repack(info)

    assert PAYLOAD not in out
    assert b"GPS-SECRET" not in out
    assert b"Exif" not in out
    assert out.endswith(b"\xff\xd9")
    with Image.open(io.BytesIO(source)) as a, Image.open(io.BytesIO(out)) as b:
        assert a.tobytes() == b.tobytes()
        assert a.quantization == b.quantization
        assert bool(b.info.get("progressive")) is progressive
    assert info.progressive is progressive


def test_read_info_reports_headers() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6
    data = _jpeg(_photo((100, 60)), quality=75, subsampling="4:2:0", exif=exif.tobytes())

    info = jpeg.read_info(data)

    assert (info.width, info.height) == (100, 60)
    assert info.orientation == 6
    assert [(c.h, c.v) for c in info.components] == [(2, 2), (1, 1), (1, 1)]
    assert info.estimated_quality() == 75
    assert info.frame == 0xC0
    assert info.icc == b""


def test_icc_chunks_are_joined() -> None:
    profile = bytes(range(256)) * 300  # 76,800 bytes: two APP2 chunks
    data = _jpeg(_photo(), icc_profile=profile)

    assert jpeg.read_info(data).icc == profile


def test_coefficient_memory_of_a_progressive_image() -> None:
    # 4:2:0: luma 1000x1000 (15,625 blocks), chroma 500x500 (3,969 blocks) each.
    blocks = 125 * 125 + 2 * 63 * 63
    assert jpeg.coefficient_bytes(1000, 1000, [(2, 2), (1, 1), (1, 1)]) == blocks * 128
    assert jpeg.coefficient_bytes(8, 8, [(1, 1)]) == 128


@pytest.mark.parametrize(
    "damage",
    [
        lambda d: d[: len(d) // 2],  # cut inside the scan
        lambda d: b"\x00" + d,  # no SOI
        lambda d: d[:2] + b"\xff\xfe\xff\xff" + d[2:],  # comment longer than the file
        lambda d: d.replace(b"\xff\xc4", b"\xff\xc4\x00\x05\x99\x99\x99", 1),  # bad DHT
    ],
)
def test_damaged_files_are_refused(damage) -> None:
    with pytest.raises(jpeg.NotJpeg):
        jpeg.read_info(damage(_jpeg(_photo())))


def test_a_sequential_file_in_several_scans_buffers_its_coefficients() -> None:
    data = _jpeg(_photo((64, 64)))
    at = data.index(b"\xff\xda")
    # The first scan claims one component of three: libjpeg must keep every coefficient.
    one = b"\xff\xda\x00\x08\x01\x01\x00\x00\x3f\x00"
    info = jpeg.read_info(data[:at] + one, headers_only=True)

    assert not info.progressive
    assert info.buffers_coefficients
    assert not jpeg.read_info(data, headers_only=True).buffers_coefficients


def test_segment_floods_and_second_frames_are_refused() -> None:
    data = _jpeg(_photo())
    flood = _segment(0xE5, b"x") * (jpeg.MAX_SEGMENTS + 1)
    with pytest.raises(jpeg.NotJpeg, match="segments"):
        jpeg.read_info(data[:2] + flood + data[2:])
    at = data.index(b"\xff\xc0")
    length = int.from_bytes(data[at + 2 : at + 4], "big")
    frame = data[at : at + 2 + length]
    with pytest.raises(jpeg.NotJpeg, match="second frame"):
        jpeg.read_info(data[:at] + frame + data[at:])
