"""GIF structure without decoding pixels: a lossless re-pack without metadata.

A GIF is a header, a logical screen descriptor (canvas size, optional global colour
table) and a series of blocks: images (descriptor, optional local colour table, LZW
data in sub-blocks) and extensions (graphic control = frame timing and transparency,
application extensions, comments, plain text), ended by a trailer byte. :func:`repack`
keeps the picture blocks byte for byte (frames, timing, the NETSCAPE loop count) and
drops comments, plain text, every other application extension (XMP, ICC, vendor data)
and anything after the trailer. Re-encoding an animation instead means decoding,
re-quantising and re-compressing every frame: most of an animated job's time, and a
loss of quality.
"""

from __future__ import annotations

from dataclasses import dataclass

_EXTENSION = 0x21
_IMAGE = 0x2C
_TRAILER = 0x3B
_GRAPHIC_CONTROL = 0xF9
_APPLICATION = 0xFF
_LOOP_APPLICATIONS = (b"NETSCAPE2.0", b"ANIMEXTS1.0")


class NotGif(ValueError):
    """The bytes are not a well-formed GIF this module can take apart."""


@dataclass(frozen=True, slots=True)
class Repacked:
    data: bytes
    width: int
    height: int
    frames: int


def repack(data: bytes) -> Repacked:
    """``data`` with only its picture and timing blocks. Raises :class:`NotGif`."""
    if len(data) < 13 or data[:6] not in (b"GIF87a", b"GIF89a"):
        raise NotGif("no GIF header")
    width = int.from_bytes(data[6:8], "little")
    height = int.from_bytes(data[8:10], "little")
    flags = data[10]
    pos = 13 + (_table_size(flags) if flags & 0x80 else 0)
    if pos > len(data) or width == 0 or height == 0:
        raise NotGif("truncated screen descriptor")
    out = bytearray(b"GIF89a")
    out += data[6:pos]
    frames = 0
    while True:
        if pos >= len(data):
            raise NotGif("no trailer")
        kind = data[pos]
        if kind == _TRAILER:
            out.append(_TRAILER)
            return Repacked(bytes(out), width, height, frames)
        if kind == _IMAGE:
            end = _image_end(data, pos)
            out += data[pos:end]
            frames += 1
        elif kind == _EXTENSION:
            if pos + 2 > len(data):
                raise NotGif("truncated extension")
            label = data[pos + 1]
            end = _sub_blocks_end(data, pos + 2)
            block = data[pos:end]
            if label == _GRAPHIC_CONTROL:
                out += _canonical_control(block)
            elif label == _APPLICATION and block[3:14] in _LOOP_APPLICATIONS:
                out += _canonical_loop(block)
        else:
            raise NotGif(f"unknown block 0x{kind:02X}")
        pos = end


def canvas_size(data: bytes) -> tuple[int, int]:
    """The canvas Pillow draws frames on: the logical screen, grown to every frame's
    extent (Pillow grows it as it seeks, so one huge frame in a tiny GIF costs its
    whole size). Headers only, and as tolerant as Pillow's reader: a byte that starts
    no block is skipped, and only the trailer or the end of the data stops it."""
    width = int.from_bytes(data[6:8], "little")
    height = int.from_bytes(data[8:10], "little")
    flags = data[10] if len(data) > 10 else 0
    pos = 13 + (_table_size(flags) if flags & 0x80 else 0)
    while pos < len(data):
        kind = data[pos]
        if kind == _IMAGE and pos + 10 <= len(data):
            left, top, frame_width, frame_height = (
                int.from_bytes(data[at : at + 2], "little") for at in range(pos + 1, pos + 9, 2)
            )
            width, height = max(width, left + frame_width), max(height, top + frame_height)
            image_flags = data[pos + 9]
            pos += 10 + (_table_size(image_flags) if image_flags & 0x80 else 0)
            pos = _skip_sub_blocks(data, pos + 1)
        elif kind == _EXTENSION:
            pos = _skip_sub_blocks(data, pos + 2)
        elif kind == _TRAILER:
            break
        else:
            pos += 1
    return width, height


def _skip_sub_blocks(data: bytes, pos: int) -> int:
    while pos < len(data) and data[pos]:
        pos += 1 + data[pos]
    return pos + 1


def _canonical_control(block: bytes) -> bytes:
    """A graphic control extension rebuilt from its four fields: nothing rides along."""
    if len(block) < 8 or block[2] != 4:
        raise NotGif("malformed graphic control extension")
    return b"\x21\xf9\x04" + block[3:7] + b"\x00"


def _canonical_loop(block: bytes) -> bytes:
    """The NETSCAPE2.0 loop count, rebuilt: anything else riding in the block is dropped."""
    if len(block) < 19 or block[2] != 11 or block[14] != 3 or block[15] != 1:
        raise NotGif("malformed loop extension")
    return b"\x21\xff\x0bNETSCAPE2.0\x03\x01" + block[16:18] + b"\x00"


def _table_size(flags: int) -> int:
    return 3 * (2 << (flags & 0x07))


def _image_end(data: bytes, pos: int) -> int:
    if pos + 10 > len(data):
        raise NotGif("truncated image descriptor")
    flags = data[pos + 9]
    pos += 10 + (_table_size(flags) if flags & 0x80 else 0)
    if pos >= len(data) or not 2 <= data[pos] <= 12:
        raise NotGif("bad LZW minimum code size")
    return _sub_blocks_end(data, pos + 1)


def _sub_blocks_end(data: bytes, pos: int) -> int:
    """Offset after the terminator of the sub-block chain starting at ``pos``."""
    while True:
        if pos >= len(data):
            raise NotGif("truncated data sub-blocks")
        size = data[pos]
        pos += 1 + size
        if size == 0:
            return pos
