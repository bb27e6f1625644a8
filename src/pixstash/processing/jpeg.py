"""JPEG structure without decoding pixels: lossless re-packing and decode-cost estimates.

A JPEG is a series of marker segments. The picture lives in the frame header (SOF),
the quantisation and Huffman tables (DQT, DHT), the restart interval (DRI) and the
entropy-coded scans (SOS and the data after it). Everything else is metadata or a
payload: APP1 (EXIF, XMP), APP2 (ICC), APP13 (IPTC), COM, other APPn, and any bytes after
the end-of-image marker. :func:`repack` rebuilds a file from the picture segments only,
copying the entropy-coded data byte for byte: the pixels are exactly the original's,
while comments, metadata and trailing data are gone.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field

SOI = 0xD8
EOI = 0xD9
SOS = 0xDA
DQT = 0xDB
DHT = 0xC4
DRI = 0xDD
APP0 = 0xE0
APP1 = 0xE1
APP2 = 0xE2
APP14 = 0xEE
COM = 0xFE
_RST = range(0xD0, 0xD8)
# Frame types browsers decode: baseline, extended sequential and progressive Huffman.
# Arithmetic coding (SOF9-11), lossless (SOF3) and hierarchical frames are not shown by
# browsers, so such files must be re-encoded.
WEB_FRAMES = frozenset({0xC0, 0xC1, 0xC2})
_FRAMES = frozenset(range(0xC0, 0xD0)) - {DHT, 0xC8, 0xCC}
PROGRESSIVE_FRAMES = frozenset({0xC2, 0xC6, 0xCA, 0xCE})
_EXIF_ORIENTATION = 0x0112

# libjpeg's example luminance table (ITU T.81 Annex K), in zigzag order, the basis of
# the usual "quality" scale.
_STD_LUMINANCE = (
    16, 11, 12, 14, 12, 10, 16, 14, 13, 14, 18, 17, 16, 19, 24, 40,
    26, 24, 22, 22, 24, 49, 35, 37, 29, 40, 58, 51, 61, 60, 57, 51,
    56, 55, 64, 72, 92, 78, 64, 68, 87, 69, 55, 56, 80, 109, 81, 87,
    95, 98, 103, 104, 103, 62, 77, 113, 121, 112, 100, 120, 92, 101, 103, 99,
)  # fmt: skip


class NotJpeg(ValueError):
    """The bytes are not a well-formed JPEG this module can take apart."""


@dataclass(frozen=True, slots=True)
class Component:
    ident: int
    h: int  # horizontal sampling factor
    v: int  # vertical sampling factor


@dataclass(slots=True)
class JpegInfo:
    """What the headers say, read without decoding a pixel."""

    frame: int  # the SOF marker (0xC0 baseline, 0xC2 progressive, ...)
    width: int
    height: int
    precision: int
    components: list[Component]
    orientation: int = 1  # 0: several EXIF blocks that disagree
    icc: bytes = b""
    adobe_transform: int | None = None  # APP14 "Adobe" colour transform, when present
    luminance_table: tuple[int, ...] = ()
    first_scan_components: int = 0
    segments: list[tuple[int, bytes]] = field(default_factory=list, repr=False)

    @property
    def progressive(self) -> bool:
        return self.frame in PROGRESSIVE_FRAMES

    @property
    def buffers_coefficients(self) -> bool:
        """libjpeg keeps every coefficient in memory: progressive, or a sequential file
        whose first scan does not hold every component (several scans)."""
        return self.progressive or self.first_scan_components < len(self.components)

    @property
    def rgb_without_transform_marker(self) -> bool:
        """Components named R, G, B and no Adobe marker: libjpeg guesses RGB from the
        names, but a JFIF header (which :func:`repack` writes) would mean YCbCr."""
        return self.adobe_transform is None and [c.ident for c in self.components] == [
            ord("R"),
            ord("G"),
            ord("B"),
        ]

    def coefficient_bytes(self) -> int:
        return coefficient_bytes(self.width, self.height, [(c.h, c.v) for c in self.components])

    def estimated_quality(self) -> int | None:
        """The libjpeg quality whose luminance table best matches this file's (1-100)."""
        if len(self.luminance_table) != 64:
            return None
        best, best_error = 0, float("inf")
        for quality in range(1, 101):
            scale = 5000 / quality if quality < 50 else 200 - 2 * quality
            error = sum(
                abs(min(255, max(1, int((base * scale + 50) // 100))) - actual)
                for base, actual in zip(_STD_LUMINANCE, self.luminance_table, strict=True)
            )
            if error < best_error:
                best, best_error = quality, error
        return best


def coefficient_bytes(width: int, height: int, sampling: Sequence[tuple[int, int]]) -> int:
    """Memory libjpeg needs to buffer a progressive image's DCT coefficients.

    A progressive JPEG cannot be shown before its last scan, so the decoder keeps every
    coefficient of every block (2 bytes each), even when it decodes at 1/8 scale.
    Sequential JPEGs stream through a few rows of blocks instead. ``sampling`` holds
    each component's (horizontal, vertical) sampling factors.
    """
    hmax = max(h for h, _ in sampling)
    vmax = max(v for _, v in sampling)
    total = 0
    for h, v in sampling:
        columns = -(-width * h // hmax)
        rows = -(-height * v // vmax)
        total += -(-columns // 8) * -(-rows // 8) * 64 * 2
    return total


# More segments than any real file has: a file made of millions of tiny APPn
# segments would otherwise cost seconds of parsing.
MAX_SEGMENTS = 4096
_PICTURE = frozenset({DQT, DHT, DRI})


def read_info(data: bytes, *, headers_only: bool = False) -> JpegInfo:
    """Take ``data`` apart into its segments. Raises :class:`NotJpeg`.

    Only picture segments are kept (metadata is read, then dropped). With
    ``headers_only`` parsing stops at the first scan header (enough for the frame and
    :attr:`JpegInfo.buffers_coefficients`); ``data`` may then be a prefix of the file.
    """
    if not data.startswith(b"\xff\xd8"):
        raise NotJpeg("no SOI marker")
    segments: list[tuple[int, bytes]] = []
    info: JpegInfo | None = None
    icc_chunks: dict[int, bytes] = {}
    orientations: list[int] = []
    adobe: int | None = None
    first_scan = 0
    luminance: tuple[int, ...] = ()
    pos, end = 2, len(data)
    for _ in range(MAX_SEGMENTS):
        marker, pos = _next_marker(data, pos)
        if marker == EOI:
            break
        if marker in _RST or marker == SOI:
            raise NotJpeg(f"unexpected marker 0x{marker:02X}")
        if pos + 2 > end:
            raise NotJpeg("segment header truncated")
        (length,) = struct.unpack_from(">H", data, pos)
        if length < 2 or pos + length > end:
            raise NotJpeg("segment length out of range")
        body = data[pos + 2 : pos + length]
        pos += length
        if marker == SOS:
            if info is None:
                raise NotJpeg("scan before the frame header")
            if length != 2 + _scan_header_size(body):
                raise NotJpeg("scan header length does not match its components")
            first_scan = first_scan or body[0]
            if headers_only:
                break
            scan_end = _scan_end(data, pos)
            segments.append((marker, body + data[pos:scan_end]))
            pos = scan_end
            continue
        if marker in _FRAMES:
            if info is not None:
                raise NotJpeg("a second frame header")
            info = _frame(marker, body)
            segments.append((marker, body))
        elif marker in _PICTURE:
            if marker == DQT:
                luminance = _luminance_table(body) or luminance
            elif marker == DHT:
                _check_huffman(body)
            elif len(body) != 2:
                raise NotJpeg("malformed restart interval")
            segments.append((marker, body))
        elif marker == APP1 and body.startswith(b"Exif\x00\x00"):
            orientations.append(_exif_orientation(body[6:]))
        elif marker == APP2 and body.startswith(b"ICC_PROFILE\x00") and len(body) > 14:
            icc_chunks[body[12]] = body[14:]
        elif marker == APP14 and body.startswith(b"Adobe") and len(body) >= 12:
            adobe = body[11]
    else:
        raise NotJpeg(f"more than {MAX_SEGMENTS} segments")
    if info is None:
        raise NotJpeg("no frame header")
    if not first_scan:
        raise NotJpeg("no scan")
    # Decoders disagree about which of several EXIF blocks counts: 0 = ambiguous.
    distinct = set(orientations)
    info.orientation = 1 if not distinct else orientations[0] if len(distinct) == 1 else 0
    info.icc = b"".join(icc_chunks[index] for index in sorted(icc_chunks))
    info.adobe_transform = adobe
    info.luminance_table = luminance
    info.first_scan_components = first_scan
    info.segments = segments
    return info


def repack(info: JpegInfo) -> bytes:
    """The picture segments of ``info`` as a new file: no metadata, comment or trailer.

    A canonical JFIF header is written for 1- or 3-component YCbCr files, and a
    canonical Adobe header (the transform flag only) when the source had one, since
    decoders need it to know the colour transform.
    """
    out = bytearray(b"\xff\xd8")
    if info.adobe_transform is None:
        out += _segment(APP0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
    else:
        out += _segment(APP14, b"Adobe\x00\x64\x00\x00\x00\x00" + bytes([info.adobe_transform]))
    for marker, body in info.segments:
        if marker in _FRAMES or marker in (DQT, DHT, DRI):
            out += _segment(marker, body)
        elif marker == SOS:
            size = _scan_header_size(body)
            out += _segment(SOS, body[:size]) + body[size:]
    out += b"\xff\xd9"
    return bytes(out)


def _segment(marker: int, body: bytes) -> bytes:
    return struct.pack(">BBH", 0xFF, marker, len(body) + 2) + body


def _scan_header_size(body: bytes) -> int:
    """Bytes of a scan header after its length field: component count, 2 per component,
    then the spectral selection and approximation bytes."""
    if not body:
        raise NotJpeg("empty scan header")
    return 1 + 2 * body[0] + 3


def _next_marker(data: bytes, pos: int) -> tuple[int, int]:
    """The marker at ``pos`` (fill bytes 0xFF allowed before it) and the offset after it."""
    end = len(data)
    if pos >= end or data[pos] != 0xFF:
        raise NotJpeg(f"expected a marker at offset {pos}")
    while pos < end and data[pos] == 0xFF:
        pos += 1
    if pos >= end:
        raise NotJpeg("truncated before a marker")
    return data[pos], pos + 1


# Inside entropy-coded data 0xFF is followed by 0x00 (a stuffed byte) or a restart
# marker; anything else after it is the next segment (fill bytes 0xFF may precede it).
_MARKER_IN_SCAN = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")


def _scan_end(data: bytes, pos: int) -> int:
    """Where the entropy-coded data starting at ``pos`` ends (at the next real marker)."""
    found = _MARKER_IN_SCAN.search(data, pos)
    if found is None:
        raise NotJpeg("scan data runs to the end of the file (truncated)")
    return found.start()


def _frame(marker: int, body: bytes) -> JpegInfo:
    if len(body) < 6:
        raise NotJpeg("frame header truncated")
    precision, height, width, count = struct.unpack_from(">BHHB", body)
    if len(body) != 6 + 3 * count or not 1 <= count <= 4:
        raise NotJpeg("frame header length does not match its components")
    components = []
    for index in range(count):
        ident, sampling, _table = struct.unpack_from(">BBB", body, 6 + 3 * index)
        h, v = sampling >> 4, sampling & 0x0F
        if not (1 <= h <= 4 and 1 <= v <= 4):
            raise NotJpeg("invalid sampling factor")
        components.append(Component(ident, h, v))
    if width == 0 or height == 0:
        raise NotJpeg("frame without pixels")
    return JpegInfo(marker, width, height, precision, components)


def _luminance_table(body: bytes) -> tuple[int, ...] | None:
    """Table 0 of a DQT segment (8-bit or 16-bit); also checks the segment's length."""
    pos, table0 = 0, None
    while pos < len(body):
        precision, ident = body[pos] >> 4, body[pos] & 0x0F
        size = 128 if precision else 64
        if precision > 1 or ident > 3 or pos + 1 + size > len(body):
            raise NotJpeg("malformed quantisation table")
        if ident == 0:
            fmt = ">64H" if precision else "64B"
            table0 = struct.unpack_from(fmt, body, pos + 1)
        pos += 1 + size
    return table0


def _check_huffman(body: bytes) -> None:
    """Every Huffman table in a DHT segment fills it exactly: nothing is hidden after."""
    pos = 0
    while pos < len(body):
        if pos + 17 > len(body) or (body[pos] >> 4) > 1 or (body[pos] & 0x0F) > 3:
            raise NotJpeg("malformed Huffman table")
        pos += 17 + sum(body[pos + 1 : pos + 17])
    if pos != len(body):
        raise NotJpeg("Huffman table length mismatch")


def _exif_orientation(tiff: bytes) -> int:
    """The Orientation tag of IFD0 (1 when absent or unreadable)."""
    if len(tiff) < 8 or tiff[:2] not in (b"II", b"MM"):
        return 1
    order = "<" if tiff[:2] == b"II" else ">"
    try:
        (offset,) = struct.unpack_from(order + "I", tiff, 4)
        (count,) = struct.unpack_from(order + "H", tiff, offset)
        for index in range(count):
            tag, kind, _n, value = struct.unpack_from(order + "HHIH", tiff, offset + 2 + 12 * index)
            if tag == _EXIF_ORIENTATION and kind == 3:
                return value if 1 <= value <= 8 else 1
    except struct.error:
        return 1
    return 1
