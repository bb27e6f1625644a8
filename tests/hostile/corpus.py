"""The hostile-input corpus, made by code from fixed seeds (nothing binary is committed).

Four families, each a list of ``Case``:

- ``mutants()``: small valid JPEG, PNG, GIF and WebP images made with Pillow, then bit
  flips, truncations and format-aware damage (PNG chunk lengths and CRCs, JPEG segment
  lengths, GIF LZW and extension blocks, WebP RIFF and chunk sizes). 500+ cases.
- ``polyglots()``: images that are also HTML, JavaScript, PHP or a ZIP archive.
- ``bombs()``: huge declared dimensions, frame floods, decompression bombs.
- ``hostile_names()``: a valid image under file names meant to hurt.

The same seed gives the same bytes on every machine, so a failing case can be rebuilt
by name (``case_by_name``) and debugged on its own.
"""

from __future__ import annotations

import functools
import io
import random
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from PIL import Image, PngImagePlugin

from tests import imagegen

# Lower-cased byte strings that no served variant may contain.
PAYLOAD_MARKERS = (
    b"<script",
    b"<?php",
    b"<html",
    b"<body",
    b"<svg",
    b"<iframe",
    b"javascript:",
    b"alert(",
    b"pk\x03\x04",
    b"pixstash-payload",
)
PAYLOAD_TAG = b"PIXSTASH-PAYLOAD"
HTML = b"<html><body><script>alert('" + PAYLOAD_TAG + b"')</script></body></html>"
JS = b"alert(document.domain);//" + PAYLOAD_TAG
PHP = b"<?php system($_GET['c']); /* " + PAYLOAD_TAG + b" */ ?>"


@dataclass(frozen=True, slots=True)
class Case:
    name: str
    data: bytes
    filename: str = "upload.bin"

    def __repr__(self) -> str:  # pytest ids and failure lists stay readable
        return f"Case({self.name}, {len(self.data)} bytes)"


def served_markers(data: bytes) -> list[bytes]:
    lowered = data.lower()
    return [marker for marker in PAYLOAD_MARKERS if marker in lowered]


# --- valid sources ----------------------------------------------------------------


def _save(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def _frames(count: int, size: tuple[int, int] = (24, 16)) -> list[Image.Image]:
    return [
        Image.new("RGB", size, ((i * 70) % 256, 255 - (i * 50) % 256, (i * 30) % 256))
        for i in range(count)
    ]


@functools.cache
def sources() -> dict[str, bytes]:
    """Small valid images, the starting points of every mutant (48x32: cheap to decode)."""
    photo = imagegen.photo(48, 32, seed=3)
    rgba = photo.convert("RGBA")
    rgba.putalpha(Image.linear_gradient("L").resize((48, 32)))
    anim = _frames(3)
    return {
        "jpeg-baseline": _save(photo, "JPEG", quality=80),
        "jpeg-progressive": _save(photo, "JPEG", quality=80, progressive=True),
        "png-rgb": _save(photo, "PNG"),
        "png-rgba": _save(rgba, "PNG"),
        "png-palette": _save(photo.convert("P"), "PNG"),
        "gif-still": _save(photo.convert("P"), "GIF"),
        "gif-anim": _save(anim[0], "GIF", save_all=True, append_images=anim[1:], duration=80),
        "webp-lossy": _save(photo, "WEBP", quality=70),
        "webp-lossless": _save(rgba, "WEBP", lossless=True),
        "webp-anim": _save(
            anim[0], "WEBP", save_all=True, append_images=anim[1:], duration=80, lossless=True
        ),
    }


# --- generic damage -----------------------------------------------------------------


def bit_flips(data: bytes, rng: random.Random, flips: int, start: int = 0) -> bytes:
    out = bytearray(data)
    for _ in range(flips):
        position = rng.randrange(start, len(out))
        out[position] ^= 1 << rng.randrange(8)
    return bytes(out)


def truncation_offsets(size: int, count: int) -> list[int]:
    """A few cuts inside the header, the rest spread evenly over the file."""
    head = [1, 3, 6, 8, 12, 16, 20, 25, 30, 40]
    spread = [size * k // (count - len(head) + 1) for k in range(1, count - len(head) + 1)]
    return sorted({o for o in head + spread if 0 < o < size})


def _with_u16(data: bytes, offset: int, value: int, big_endian: bool) -> bytes:
    return data[:offset] + struct.pack(">H" if big_endian else "<H", value) + data[offset + 2 :]


def _with_u32(data: bytes, offset: int, value: int, big_endian: bool) -> bytes:
    return data[:offset] + struct.pack(">I" if big_endian else "<I", value) + data[offset + 4 :]


# --- PNG --------------------------------------------------------------------------------

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_chunks(data: bytes) -> Iterator[tuple[int, int, bytes]]:
    """(offset, body length, type) of each chunk."""
    offset = len(PNG_SIGNATURE)
    while offset + 8 <= len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        yield offset, length, data[offset + 4 : offset + 8]
        offset += 12 + length


def _png_damage(data: bytes, rng: random.Random) -> Iterator[tuple[str, bytes]]:
    for offset, length, kind in png_chunks(data):
        name = kind.decode("latin-1")
        lies = sorted({0, 1, max(0, length - 1), length + 1, 0x7FFFFFFF, 0xFFFFFFFF})
        lies.append(rng.randrange(1, 1 << 20))
        for lie in lies:
            yield f"len-{name}-{lie}", _with_u32(data, offset, lie, big_endian=True)
        crc_at = offset + 8 + length
        bad_crc = data[:crc_at] + bytes(b ^ 0x5A for b in data[crc_at : crc_at + 4])
        yield f"crc-{name}", bad_crc + data[crc_at + 4 :]
        if kind == b"IHDR":
            body = offset + 8
            for field, at, values in (
                ("width", 0, (0, 1 << 31, 0xFFFFFFFF)),
                ("height", 4, (0, 1 << 31)),
            ):
                for value in values:
                    patched = _with_u32(data, body + at, value, big_endian=True)
                    yield f"ihdr-{field}-{value}", _fix_png_crc(patched, offset)
            for field, at, values in (
                ("depth", 8, (0, 3, 7, 32)),
                ("colour", 9, (1, 5, 7, 255)),
                ("filter", 12, (1,)),
                ("interlace", 12, (2,)),
            ):
                for value in values:
                    patched = data[: body + at] + bytes([value]) + data[body + at + 1 :]
                    yield f"ihdr-{field}-{value}", _fix_png_crc(patched, offset)


def _fix_png_crc(data: bytes, offset: int) -> bytes:
    (length,) = struct.unpack(">I", data[offset : offset + 4])
    kind_body = data[offset + 4 : offset + 8 + length]
    crc_at = offset + 8 + length
    return data[:crc_at] + struct.pack(">I", zlib.crc32(kind_body)) + data[crc_at + 4 :]


# --- JPEG -------------------------------------------------------------------------------


def jpeg_segments(data: bytes) -> Iterator[tuple[int, int, int]]:
    """(offset of the marker, marker byte, declared length) up to and including SOS."""
    offset = 2
    while offset + 4 <= len(data) and data[offset] == 0xFF:
        marker = data[offset + 1]
        (length,) = struct.unpack(">H", data[offset + 2 : offset + 4])
        yield offset, marker, length
        if marker == 0xDA:
            return
        offset += 2 + length


def _jpeg_damage(data: bytes, rng: random.Random) -> Iterator[tuple[str, bytes]]:
    for offset, marker, length in jpeg_segments(data):
        name = f"{marker:02x}@{offset}"
        lies = sorted({0, 1, 2, max(0, length - 1), length + 1, length + 64, 0xFFFF})
        lies.append(rng.randrange(3, 0xFFFF))
        for lie in lies:
            yield f"seglen-{name}-{lie}", _with_u16(data, offset + 2, lie, big_endian=True)
        if marker in (0xC0, 0xC2):
            for field, at in (("height", 5), ("width", 7)):
                for value in (0, 1, 0xFFFF):
                    patched = _with_u16(data, offset + at, value, big_endian=True)
                    yield f"sof-{field}-{value}", patched
            ncomp = offset + 9
            for value in (0, 2, 4, 255):
                yield f"sof-components-{value}", data[:ncomp] + bytes([value]) + data[ncomp + 1 :]
            sampling = offset + 11
            for value in (0x00, 0x55, 0xFF):
                patched = data[:sampling] + bytes([value]) + data[sampling + 1 :]
                yield f"sof-sampling-{value:02x}", patched
        if marker == 0xC4:  # Huffman table: counts that promise more codes than follow
            counts = offset + 5
            yield f"dht-counts-ff@{offset}", data[:counts] + b"\xff" * 16 + data[counts + 16 :]
        if marker == 0xDB:  # quantisation table: precision/id nibble out of range
            yield f"dqt-id-0f@{offset}", data[: offset + 4] + b"\x0f" + data[offset + 5 :]
            yield f"dqt-zeros@{offset}", data[: offset + 5] + b"\x00" * 64 + data[offset + 69 :]
        if marker == 0xDA:
            yield "sos-components-9", data[: offset + 4] + b"\x09" + data[offset + 5 :]
            end = offset + 2 + length
            for index in range(4):  # damaged entropy-coded data
                yield f"scan-flip-{index}", bit_flips(data, rng, 4, start=end)
            yield "no-eoi", data[:-2]
            yield "eoi-early", data[: end + 8] + b"\xff\xd9"


# --- GIF --------------------------------------------------------------------------------


def gif_blocks(data: bytes) -> Iterator[tuple[str, int]]:
    """(kind, offset) of each block: "ext:<label>" or "image" (its descriptor)."""
    flags = data[10]
    offset = 13 + (3 * (2 ** ((flags & 7) + 1)) if flags & 0x80 else 0)
    while offset < len(data):
        introducer = data[offset]
        if introducer == 0x21:
            yield f"ext:{data[offset + 1]:02x}", offset
            offset = _skip_sub_blocks(data, offset + 2)
        elif introducer == 0x2C:
            yield "image", offset
            lct = data[offset + 9]
            offset += 10 + (3 * (2 ** ((lct & 7) + 1)) if lct & 0x80 else 0)
            offset = _skip_sub_blocks(data, offset + 1)  # after the LZW minimum code size
        else:
            return


def _skip_sub_blocks(data: bytes, offset: int) -> int:
    while offset < len(data) and data[offset]:
        offset += data[offset] + 1
    return offset + 1


def _gif_damage(data: bytes, rng: random.Random) -> Iterator[tuple[str, bytes]]:
    yield "screen-0x0", data[:6] + b"\x00\x00\x00\x00" + data[10:]
    yield "gct-flag-no-table", data[:10] + bytes([data[10] | 0x87]) + data[11:13] + data[-30:]
    for index, (kind, offset) in enumerate(gif_blocks(data)):
        if kind == "image":
            lct = data[offset + 9]
            lzw = offset + 10 + (3 * (2 ** ((lct & 7) + 1)) if lct & 0x80 else 0)
            for size in (0, 1, 9, 12, 255):
                yield f"lzw-min-{index}-{size}", data[:lzw] + bytes([size]) + data[lzw + 1 :]
            for value in (0, 255, rng.randrange(1, 255)):
                patched = data[: lzw + 1] + bytes([value]) + data[lzw + 2 :]
                yield f"lzw-subblock-{index}-{value}", patched
            block = data[lzw + 1]
            yield f"lzw-flip-{index}", bit_flips(data, rng, 3, start=lzw + 2) if block else data
            for field, at in (("left", 1), ("width", 5)):
                patched = _with_u16(data, offset + at, 0xFFFF, big_endian=False)
                yield f"frame-{field}-{index}-ffff", patched
            yield f"frame-lct-no-table-{index}", data[: offset + 9] + b"\x87" + data[offset + 10 :]
        else:
            for size in (0, 3, 5, 255):
                patched = data[: offset + 2] + bytes([size]) + data[offset + 3 :]
                yield f"ext-size-{kind[4:]}-{index}-{size}", patched
            yield f"ext-label-{index}-ff", data[: offset + 1] + b"\xff" + data[offset + 2 :]
    yield "no-trailer", data[:-1]
    yield "trailer-only", data[:13] + b";"


# --- WebP -------------------------------------------------------------------------------


def riff_chunks(data: bytes) -> Iterator[tuple[int, int, bytes]]:
    offset = 12
    while offset + 8 <= len(data):
        (length,) = struct.unpack("<I", data[offset + 4 : offset + 8])
        yield offset, length, data[offset : offset + 4]
        offset += 8 + length + (length & 1)


def _webp_damage(data: bytes, rng: random.Random) -> Iterator[tuple[str, bytes]]:
    size = len(data) - 8
    for lie in (0, 4, size - 9, size + 100, 0x7FFFFFFF, 0xFFFFFFFF, rng.randrange(1, 1 << 30)):
        yield f"riff-size-{lie}", _with_u32(data, 4, lie, big_endian=False)
    for offset, length, kind in riff_chunks(data):
        name = kind.decode("latin-1").strip()
        for lie in (0, 1, max(0, length - 1), length + 1, 0xFFFFFFFF, rng.randrange(1, 1 << 24)):
            yield f"chunk-{name}@{offset}-{lie}", _with_u32(data, offset + 4, lie, False)
        if kind == b"VP8X":  # flags promising chunks that are not there; a canvas of 0
            yield "vp8x-flags-ff", data[: offset + 8] + b"\xff" + data[offset + 9 :]
            yield "vp8x-canvas-0", data[: offset + 12] + b"\xff\xff\xff" * 2 + data[offset + 18 :]
        if kind == b"ANMF":
            body = offset + 8
            yield f"anmf-frame-huge-{offset}", data[: body + 6] + b"\xff" * 6 + data[body + 12 :]
    yield "fourcc-vp8-to-vp8l", data.replace(b"VP8 ", b"VP8L", 1)


_DAMAGE: dict[str, Callable[[bytes, random.Random], Iterator[tuple[str, bytes]]]] = {
    "jpeg": _jpeg_damage,
    "png": _png_damage,
    "gif": _gif_damage,
    "webp": _webp_damage,
}


@functools.cache
def mutants() -> tuple[Case, ...]:
    """Every mutant of every source; distinct bytes only (the server dedups identical ones)."""
    cases: list[Case] = []
    seen: set[bytes] = set()
    for source_name, data in sources().items():
        rng = random.Random(f"pixstash-hostile-{source_name}")
        family = source_name.split("-", 1)[0]
        made: list[tuple[str, bytes]] = []
        for index in range(24):
            made.append((f"flip{index}", bit_flips(data, rng, 1 + index % 8)))
        for offset in truncation_offsets(len(data), 24):
            made.append((f"cut{offset}", data[:offset]))
        made.extend(_DAMAGE[family](data, rng))
        for kind, mutated in made:
            if mutated != data and mutated not in seen:
                seen.add(mutated)
                cases.append(Case(f"{source_name}/{kind}", mutated, f"{source_name}.bin"))
    return tuple(cases)


# --- polyglots --------------------------------------------------------------------------


def _zip_archive() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("shell.php", PHP)
        archive.writestr("index.html", HTML)
    return out.getvalue()


def _jpeg_with_segment(jpeg: bytes, marker: int, body: bytes) -> bytes:
    return jpeg[:2] + b"\xff" + bytes([marker]) + struct.pack(">H", len(body) + 2) + body + jpeg[2:]


def _gif_comment(body: bytes) -> bytes:
    blocks = b"".join(bytes([len(part)]) + part for part in _split(body, 255))
    return b"\x21\xfe" + blocks + b"\x00"


def _split(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def _gif_with_comment(gif: bytes, body: bytes) -> bytes:
    at = next(offset for _kind, offset in gif_blocks(gif))
    return b"GIF89a" + gif[6:at] + _gif_comment(body) + gif[at:]


def _js_gif() -> bytes:
    """``GIF89a/*...*/=alert(...)``: a 10799 px wide GIF (0x2A2F is "/*") whose bytes,
    read as JavaScript, are a comment, then an assignment that runs the payload."""
    image = Image.new("P", (0x2A2F, 2), 0)
    body = b"GIF89a" + _save(image, "GIF")[6:]
    assert body[6:8] == b"/*"
    return body.replace(b"*/", b"\x00\x00") + b"*/=" + JS


def _php_gif_header() -> bytes:
    """``GIF89a<?php``: the logical screen is ``<?`` x ``ph`` (16188 x 26736)."""
    return b"GIF89a" + PHP[:4] + b"\x00\x00\x00" + PHP[4:] + b"\x00;"


def _riff_append(webp: bytes, kind: bytes, body: bytes) -> bytes:
    chunk = kind + struct.pack("<I", len(body)) + body + (b"\x00" if len(body) & 1 else b"")
    out = webp + chunk
    return out[:4] + struct.pack("<I", len(out) - 8) + out[8:]


@functools.cache
def polyglots() -> tuple[Case, ...]:
    src = sources()
    jpeg, png, gif, webp = src["jpeg-baseline"], src["png-rgb"], src["gif-still"], src["webp-lossy"]
    zipped = _zip_archive()
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", HTML.decode())
    info.add_text("Description", HTML.decode(), zip=True)
    info.add_itxt("XML:com.adobe.xmp", HTML.decode())
    png_text = _save(imagegen.photo(48, 32, seed=3), "PNG", pnginfo=info)
    exif = Image.Exif()
    exif[0x010E] = HTML.decode()  # ImageDescription
    jpeg_exif = _save(imagegen.photo(48, 32, seed=3), "JPEG", exif=exif.tobytes())
    cases = [
        ("jpeg-html-after-eoi", jpeg + HTML),
        ("jpeg-html-in-com", _jpeg_with_segment(jpeg, 0xFE, HTML)),
        ("jpeg-html-in-app15", _jpeg_with_segment(jpeg, 0xEF, HTML)),
        ("jpeg-html-in-exif", jpeg_exif),
        ("jpeg-php-in-com", _jpeg_with_segment(jpeg, 0xFE, PHP)),
        ("jpeg-zip", jpeg + zipped),
        ("gif-js-comment-trick", _js_gif()),
        ("gif-script-in-comment", _gif_with_comment(gif, HTML)),
        ("gif-php-in-comment", _gif_with_comment(gif, PHP)),
        ("gif-html-after-trailer", gif + HTML),
        ("gif-zip", gif + zipped),
        ("gif89a-php-raw", b"GIF89a" + PHP),
        ("gif89a-php-screen", _php_gif_header()),
        ("png-text-html", png_text),
        ("png-html-after-iend", png + HTML),
        ("png-html-chunk-before-idat", _png_insert(png, png_chunk(b"htMl", HTML))),
        ("png-zip", png + zipped),
        ("webp-html-after-riff", webp + HTML),
        ("webp-html-in-exif", _riff_append(webp, b"EXIF", HTML)),
        ("webp-html-in-xmp", _riff_append(webp, b"XMP ", HTML)),
        ("webp-zip", webp + zipped),
        ("webp-zip-in-riff", _riff_append(webp, b"ZIPP", zipped)),
        ("html-only", HTML),
        ("zip-only", zipped),
    ]
    return tuple(Case(f"polyglot/{name}", data, f"{name}.jpg") for name, data in cases)


def _png_insert(png: bytes, chunk: bytes) -> bytes:
    """Insert ``chunk`` just after IHDR."""
    at = len(PNG_SIGNATURE) + 12 + 13
    return png[:at] + chunk + png[at:]


# --- bombs ------------------------------------------------------------------------------


def _png(width: int, height: int, *chunks: bytes, depth: int = 8, colour: int = 2) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    return PNG_SIGNATURE + png_chunk(b"IHDR", ihdr) + b"".join(chunks) + png_chunk(b"IEND", b"")


def _tiny_idat() -> bytes:
    return png_chunk(b"IDAT", zlib.compress(b"\x00" * 16))


@functools.cache
def zeros_deflated(size: int) -> bytes:
    """A zlib stream of ``size`` zero bytes (~1000:1), made without deflating them all.

    After a full flush a deflate block no longer refers to earlier data, so the block
    for one MiB of zeros is made once and repeated; the tail is its own final block.
    """
    block = bytes(1 << 20)
    count, rest = divmod(size, len(block))
    packer = zlib.compressobj(9)
    parts = [packer.compress(b"") + packer.flush(zlib.Z_NO_FLUSH)]  # the zlib header
    if count:
        first = packer.compress(block) + packer.flush(zlib.Z_FULL_FLUSH)
        repeated = packer.compress(block) + packer.flush(zlib.Z_FULL_FLUSH)
        parts.append(first + repeated * (count - 1))
    tail = zlib.compressobj(9, zlib.DEFLATED, -15)
    parts.append(tail.compress(bytes(rest)) + tail.flush())
    checksum = 1
    for _ in range(count):
        checksum = zlib.adler32(block, checksum)
    checksum = zlib.adler32(bytes(rest), checksum)
    return b"".join(parts) + struct.pack(">I", checksum)


def _idat_bomb(width: int, height: int) -> bytes:
    """An RGBA 16-bit PNG of zeros: 8 bytes a pixel when decoded, ~1000x its file size."""
    raw = (width * 8 + 1) * height
    return _png(width, height, png_chunk(b"IDAT", zeros_deflated(raw)), depth=16, colour=6)


def _gif_frames(width: int, height: int, frames: int, frame_size: int = 1) -> bytes:
    screen = struct.pack("<HHBBB", width, height, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff"
    loop = b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00"
    frame = (
        b"\x21\xf9\x04\x04\x02\x00\x00\x00"  # graphic control: 20 ms, disposal 1
        + b"\x2c\x00\x00\x00\x00"
        + struct.pack("<HH", frame_size, frame_size)
        + b"\x00\x02\x02\x44\x01\x00"  # one pixel of colour 0, LZW minimum code size 2
    )
    return b"GIF89a" + screen + loop + frame * frames + b";"


def _gif_outgrowing_frame(width: int, height: int) -> bytes:
    """A 24x16 GIF whose second frame is ``width`` x ``height``: Pillow grows the canvas
    to fit it when it seeks there (found by tests/fuzz: 1.3 GB for 50594x6283)."""
    first = _gif_frames(24, 16, 1)[:-1]
    frame = b"\x2c\x00\x00\x00\x00" + struct.pack("<HH", width, height)
    return first + frame + b"\x00\x02\x02\x44\x01\x00;"


def _apng_flood(frames: int, width: int = 1, height: int = 1) -> bytes:
    """An APNG of ``frames`` frames, each a 1x1 update of a ``width`` x ``height`` canvas."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\x00\x00\x00")
    first = zlib.compress(bytes((width * 3 + 1) * height))
    chunks = [png_chunk(b"acTL", struct.pack(">II", frames, 0))]
    sequence = 0
    for index in range(frames):
        control = struct.pack(">IIIIIHHBB", sequence, 1, 1, 0, 0, 1, 50, 0, 0)
        chunks.append(png_chunk(b"fcTL", control))
        sequence += 1
        if index == 0:
            control = struct.pack(">IIIIIHHBB", sequence - 1, width, height, 0, 0, 1, 50, 0, 0)
            chunks[-1] = png_chunk(b"fcTL", control)
            chunks.append(png_chunk(b"IDAT", first))
        else:
            chunks.append(png_chunk(b"fdAT", struct.pack(">I", sequence) + pixels))
            sequence += 1
    body = png_chunk(b"IHDR", ihdr) + b"".join(chunks) + png_chunk(b"IEND", b"")
    return PNG_SIGNATURE + body


def _webp_canvas(width: int, height: int, frames: int = 1, animated: bool = False) -> bytes:
    """A VP8X WebP with the given canvas and ``frames`` copies of a 1x1 lossless frame
    (animated: a canvas larger than its frames is valid)."""
    tiny = _save(Image.new("RGB", (1, 1), (200, 10, 10)), "WEBP", lossless=True)
    vp8l = tiny[12:]  # the VP8L chunk, header included
    animated = animated or frames > 1
    vp8x = struct.pack("<I", 0x02 if animated else 0)[:1] + b"\x00\x00\x00"
    vp8x += struct.pack("<I", width - 1)[:3] + struct.pack("<I", height - 1)[:3]
    body = b"WEBP" + b"VP8X" + struct.pack("<I", 10) + vp8x
    if animated:
        body += b"ANIM" + struct.pack("<I", 6) + b"\x00\x00\x00\x00\x00\x00"
        frame = (
            b"\x00\x00\x00\x00\x00\x00"  # x, y
            + b"\x00\x00\x00\x00\x00\x00"  # width - 1, height - 1
            + b"\x32\x00\x00\x00"  # 50 ms, no blend, no dispose
            + vp8l
        )
        anmf = (
            b"ANMF" + struct.pack("<I", len(frame)) + frame + (b"\x00" if len(frame) & 1 else b"")
        )
        body += anmf * frames
    else:
        body += vp8l
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _jpeg_sof(width: int, height: int) -> bytes:
    jpeg = sources()["jpeg-baseline"]
    for offset, marker, _length in jpeg_segments(jpeg):
        if marker in (0xC0, 0xC2):
            patched = _with_u16(jpeg, offset + 5, height, big_endian=True)
            return _with_u16(patched, offset + 7, width, big_endian=True)
    raise AssertionError("no SOF in the source JPEG")


BOMB_TEXT_BYTES = 300 * 1024 * 1024  # what a zTXt / iCCP bomb inflates to


@functools.cache
def bombs() -> tuple[Case, ...]:
    """Each is small on the wire and enormous once believed or decoded."""
    photo = imagegen.photo(48, 32, seed=3)
    deflated = zeros_deflated(BOMB_TEXT_BYTES)
    rgb = _save(photo, "PNG")
    cases = [
        ("png-ihdr-100000x100000", _png(100_000, 100_000, _tiny_idat())),
        ("png-ihdr-max", _png(0x7FFFFFFF, 0x7FFFFFFF, _tiny_idat())),
        ("png-idat-bomb-over-budget", _idat_bomb(12_000, 12_000)),
        ("png-idat-bomb-in-budget", _idat_bomb(5_000, 5_000)),
        ("png-ztxt-bomb", _png_insert(rgb, png_chunk(b"zTXt", b"Comment\x00\x00" + deflated))),
        ("png-iccp-bomb", _png_insert(rgb, png_chunk(b"iCCP", b"sRGB\x00\x00" + deflated))),
        (
            "png-itxt-bomb",
            _png_insert(rgb, png_chunk(b"iTXt", b"C\x00\x01\x00\x00\x00" + deflated)),
        ),
        ("gif-screen-65535", _gif_frames(0xFFFF, 0xFFFF, 1)),
        ("gif-frame-65535", _gif_frames(0xFFFF, 0xFFFF, 1, frame_size=0xFFFF)),
        ("gif-frame-outgrows-screen", _gif_outgrowing_frame(50594, 6283)),
        ("gif-frame-outgrows-screen-in-budget", _gif_outgrowing_frame(6000, 4000)),
        ("gif-frame-flood-5000", _gif_frames(1, 1, 5000)),
        ("gif-frame-flood-20000", _gif_frames(1, 1, 20_000)),
        ("apng-frame-flood-3000", _apng_flood(3000)),
        ("apng-actl-lies", _png_insert(rgb, png_chunk(b"acTL", struct.pack(">II", 1 << 31, 0)))),
        ("webp-vp8x-canvas-16384", _webp_canvas(1 << 14, 1 << 14)),
        ("webp-vp8x-canvas-max", _webp_canvas(1 << 24, 1 << 24)),
        ("webp-anim-canvas-16384", _webp_canvas(1 << 14, 1 << 14, animated=True)),
        ("webp-anim-canvas-7000", _webp_canvas(7000, 7000, animated=True)),
        ("webp-frame-flood-3000", _webp_canvas(1, 1, 3000)),
        # Every limit just met: 1000 frames (the default maximum) of a 220x220 canvas,
        # 48 MP in all (the default budget is 50), each frame a 1x1 update on the wire.
        ("gif-anim-at-budget", _gif_frames(220, 220, 1000)),
        ("apng-anim-at-budget", _apng_flood(1000, 220, 220)),
        ("webp-anim-at-budget", _webp_canvas(220, 220, 1000)),
        # Two frames of a huge canvas: within the pixel budget, but each full-size step
        # of the render costs the canvas again (735 MB before probe.check_animation_memory).
        ("gif-anim-2x4900", _gif_frames(4900, 4900, 2)),
        ("apng-anim-2x4900", _apng_flood(2, 4900, 4900)),
        ("webp-anim-2x4400", _webp_canvas(4400, 4400, 2)),
        ("jpeg-sof-65500", _jpeg_sof(65_500, 65_500)),
        ("jpeg-sof-65500x1", _jpeg_sof(65_500, 1)),
    ]
    return tuple(Case(f"bomb/{name}", data, f"{name}.png") for name, data in cases)


# --- file names -------------------------------------------------------------------------

HOSTILE_NAMES = (
    "../../../../etc/passwd",
    "..\\..\\windows\\win.ini",
    "/absolute/path.jpg",
    "nul\x00byte.jpg",
    "crlf\r\nX-Injected: yes.jpg",
    "a" * 1000 + ".jpg",
    "\u202egpj.exe",  # right-to-left override: shows as "exe.jpg"
    "shell.php",
    "image.jpg.html",
    "image.svg",
    "<script>alert(1)</script>.jpg",
    '"quoted"; filename="other.jpg',
    "\ufeff\u200b.jpg",
    "",
    ".",
    "CON",
)


def hostile_names() -> tuple[Case, ...]:
    jpeg = sources()["jpeg-baseline"]
    return tuple(
        Case(f"name/{index}", jpeg + bytes([index]), name)  # distinct bytes: no dedup
        for index, name in enumerate(HOSTILE_NAMES)
    )


def all_cases() -> tuple[Case, ...]:
    return mutants() + polyglots() + bombs() + hostile_names()


def case_by_name(name: str) -> Case:
    return next(case for case in all_cases() if case.name == name)
