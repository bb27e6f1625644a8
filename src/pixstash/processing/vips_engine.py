"""``ImageEngine`` on libvips (pyvips-binary), with Pillow where Pillow does better.

Measured on this project's bench corpus (docs/BENCHMARKS.md, "Image pipeline"), libvips
makes still variants in a fraction of Pillow's CPU time and memory: it decodes JPEGs at
reduced scale (shrink-on-load), streams the rest, and its bundled mozjpeg writes
smaller JPEGs (SSIM-tuned quantisation tables, progressive). Pillow keeps what it
already does well and libvips does not: animations (libvips cannot read APNG), palette
sources (GIF, paletted PNG) whose palette is kept losslessly, and BMP.

One job decodes its source at most once: the full-size variant of a JPEG is re-packed
losslessly when it can be (:mod:`pixstash.processing.jpeg`), and every smaller variant
comes from the largest rendition already made, or from one reduced-scale decode.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from pixstash.domain.formats import OutputFormat, SourceFormat
from pixstash.domain.model import Placeholder, Probe, Rendered
from pixstash.domain.variants import VariantSpec
from pixstash.errors import ImageCorrupt, PixstashError
from pixstash.processing import jpeg
from pixstash.processing.encode import EncodeOptions
from pixstash.processing.encode import encode as pillow_encode
from pixstash.processing.guard import decoding, open_image
from pixstash.processing.memory import release_free_memory
from pixstash.processing.payload import carries_payload
from pixstash.processing.pillow_engine import PillowEngine
from pixstash.processing.probe import frame_count

# Untrusted and unneeded loaders (SVG, PDF, Matlab, FITS, CSV...) are blocked before
# pyvips loads anything; only the loaders of accepted formats stay callable.
os.environ.setdefault("VIPS_BLOCK_UNTRUSTED", "1")
import pyvips

_ALLOWED_LOADERS = (
    "VipsForeignLoadJpeg",
    "VipsForeignLoadPng",
    "VipsForeignLoadWebp",
    "VipsForeignLoadHeif",
    "VipsForeignLoadTiff",
)
pyvips.block_untrusted_set(True)
pyvips.operation_block_set("VipsForeignLoad", True)
for _loader in _ALLOWED_LOADERS:
    pyvips.operation_block_set(_loader, False)
# Each job touches its files once; the operation cache would only hold memory (and
# could answer for a temporary path reused with other content).
pyvips.cache_set_max(0)
# One thread per operation: jobs already run in parallel (one per CPU thread), and on
# this machine libvips' own worker threads cost ~15% more CPU for the same 12 MP job.
if "VIPS_CONCURRENCY" not in os.environ:
    pyvips.concurrency_set(1)

VIPS_SOURCES = frozenset(
    {SourceFormat.JPEG, SourceFormat.PNG, SourceFormat.WEBP, SourceFormat.AVIF, SourceFormat.TIFF}
)
# A rendition serves a smaller target when it is at least this many times its size.
HEADROOM = 2.0
# A JPEG is decoded at 1/2, 1/4 or 1/8 scale (in the DCT domain, nearly free) as long as
# the result is still this many times the largest target: at 1.5 the 640 px variant of
# a 12 MP photo decodes at 1/4 instead of libvips' default 1/2, for 8% less CPU and the
# same SSIM (docs/BENCHMARKS.md).
JPEG_SHRINK_HEADROOM = 1.5

# mozjpeg's MS-SSIM-tuned tables (quant_table 2), progressive with optimised Huffman
# codes. Measured on the bench corpus (docs/BENCHMARKS.md): at equal luma SSIM this is
# 5-9% smaller than libjpeg's default tables at quality 85; trellis quantisation saved
# ~2% more at equal SSIM for 4-6x the encode time (43 vs 7 ms for a 640 px variant), so
# it is off; optimize_scans changed nothing measurable for twice the time.
JPEG_QUALITY = 84
JPEG_QUANT_TABLE = 2
JPEG_FULL_QUALITY_RANGE = (75, 92)  # re-encoded full size: the source's quality, clamped
WEBP_QUALITY = 80
WEBP_EFFORT = 4
# zlib level 6 with the Paeth row filter. Measured on the corpus's 4K screenshot: no
# filter (libvips' default) made its 640 px variant 22% larger (176 vs 145 KB) and the
# full size 5% larger (737 vs 699 KB); adaptive filtering ("all") was no smaller than
# Paeth at the small sizes, 9% larger at full size and twice as slow; level 9 saved
# ~3% for 5x the time.
PNG_COMPRESSION = 6
PNG_FILTER = "paeth"

Target = tuple[VariantSpec, OutputFormat]


class VipsEngine:
    """Synchronous and CPU-bound: run it in a worker thread, never on the event loop."""

    def __init__(self, fallback: PillowEngine | None = None) -> None:
        self.fallback = fallback or PillowEngine()

    def probe(self, path: Path, *, max_pixels: int) -> Probe:
        return self.fallback.probe(path, max_pixels=max_pixels)

    def describe(self, data: bytes) -> Placeholder:
        return self.fallback.describe(data)

    def render(
        self, source: Path, source_format: SourceFormat, targets: Sequence[Target]
    ) -> list[Rendered]:
        if not targets:
            return []
        if any(fmt.is_video for _, fmt in targets) or not uses_vips(source, source_format):
            return self.fallback.render(source, source_format, targets)
        try:
            return _Job(source, source_format).render(targets)
        except pyvips.Error as exc:
            raise ImageCorrupt() from exc
        finally:
            release_free_memory()


def uses_vips(source: Path, source_format: SourceFormat) -> bool:
    """Whether libvips renders this source (still, not paletted, a format it reads)."""
    if source_format not in VIPS_SOURCES:
        return False
    if source_format is SourceFormat.JPEG:
        return True
    with source.open("rb") as fp, decoding(), open_image(fp, source_format) as image:
        return frame_count(image, source_format) == 1 and image.mode not in ("P", "PA")


@dataclass(slots=True)
class _Made:
    """An upright, sRGB, 8-bit rendition held in memory."""

    image: pyvips.Image

    @property
    def size(self) -> tuple[int, int]:
        return self.image.width, self.image.height


class _Job:
    def __init__(self, path: Path, source_format: SourceFormat) -> None:
        self.path = path
        self.format = source_format
        self._jpeg: jpeg.JpegInfo | None = None
        self._jpeg_read = source_format is not SourceFormat.JPEG
        header = pyvips.Image.new_from_file(str(path), access="sequential")
        width, height = header.width, header.height
        orientation = _orientation(header)
        self.orientation = orientation
        self.grey = header.interpretation in ("b-w", "grey16")
        # libvips converts CMYK by itself; other profiles only when asked to.
        icc = header.get("icc-profile-data") if header.get_typeof("icc-profile-data") else b""
        self.colour: dict[str, Any] = (
            {"export_profile": "srgb"} if icc and not _is_srgb(icc) else {}
        )
        self.size = (height, width) if orientation >= 5 else (width, height)
        self.full: _Made | None = None
        self.made: list[_Made] = []

    def render(self, targets: Sequence[Target]) -> list[Rendered]:
        results: dict[int, Rendered] = {}
        # Same pixels and format: encode once ("large" of a small image is "full").
        encoded: dict[tuple[object, ...], Rendered] = {}
        for index in sorted(range(len(targets)), key=lambda i: -self._area(targets[i][0])):
            spec, fmt = targets[index]
            size = spec.target_size(*self.size)
            full = size == self.size and (spec.is_full or not spec.crop)
            key = (fmt, full, size, spec.crop)
            if key not in encoded:
                encoded[key] = self._make(spec, fmt, size, full)
            results[index] = encoded[key]
        return [results[index] for index in range(len(targets))]

    @property
    def jpeg_info(self) -> jpeg.JpegInfo | None:
        """The source's JPEG structure, parsed once, when a full-size JPEG is wanted."""
        if not self._jpeg_read:
            self._jpeg_read = True
            try:
                self._jpeg = jpeg.read_info(self.path.read_bytes())
            except jpeg.NotJpeg:
                self._jpeg = None  # let libjpeg judge it; it may still decode
        return self._jpeg

    def _make(
        self, spec: VariantSpec, fmt: OutputFormat, size: tuple[int, int], full: bool
    ) -> Rendered:
        info = self.jpeg_info if full and fmt is OutputFormat.JPEG else None
        if info is not None and self._repackable(info):
            data = jpeg.repack(info)
            if not carries_payload(data):
                return Rendered(data, *self.size)
        made = self._full() if full else self._scaled(spec, size)
        return Rendered(self._encode(made.image, fmt, full), *made.size)

    def _area(self, spec: VariantSpec) -> int:
        width, height = spec.target_size(*self.size)
        return width * height

    def _repackable(self, info: jpeg.JpegInfo) -> bool:
        """A lossless full-size copy is possible: the stored pixels are what to show."""
        return (
            info.frame in jpeg.WEB_FRAMES
            and info.precision == 8
            and len(info.components) in (1, 3)
            and info.adobe_transform in (None, 1)
            and info.orientation == 1
            and self.orientation == 1  # libvips read the same (the size it reported)
            and not info.rgb_without_transform_marker
            and (not info.icc or _is_srgb(info.icc))
        )

    def _full(self) -> _Made:
        if self.full is None:
            width, height = self.size
            image = pyvips.Image.thumbnail(
                str(self.path), width, height=height, size="down", **self.colour
            )
            self.full = _Made(self._normalise(image).copy_memory())
        return self.full

    def _scaled(self, spec: VariantSpec, size: tuple[int, int]) -> _Made:
        width, height = size
        source = self._source_for(size)
        # A square crop fills the box, then keeps its most interesting part; any other
        # target is made at exactly its computed size.
        options: dict[str, Any] = {"crop": "attention"} if spec.crop else {"size": "force"}
        shrink = self._jpeg_shrink(size) if source is None else 1
        if shrink > 1:
            loaded = pyvips.Image.jpegload(str(self.path), shrink=shrink)
            image = loaded.thumbnail_image(width, height=height, **options, **self.colour)
        elif source is None:
            image = pyvips.Image.thumbnail(
                str(self.path), width, height=height, **options, **self.colour
            )
        else:
            image = source.image.thumbnail_image(width, height=height, **options)
        made = _Made(self._normalise(image).copy_memory())
        if not spec.crop:
            self.made.append(made)
        return made

    def _normalise(self, image: pyvips.Image) -> pyvips.Image:
        """8-bit sRGB (grey stays grey), with alpha if any."""
        space = "b-w" if self.grey else "srgb"
        if image.interpretation != space or image.format != "uchar":
            image = image.colourspace(space)
        if image.format != "uchar":
            image = image.cast("uchar")
        return image

    def _jpeg_shrink(self, size: tuple[int, int]) -> int:
        """The largest DCT-domain reduction that keeps JPEG_SHRINK_HEADROOM x ``size``."""
        if self.format is not SourceFormat.JPEG:
            return 1
        width, height = size
        for shrink in (8, 4, 2):
            if (
                self.size[0] / shrink >= JPEG_SHRINK_HEADROOM * width
                and self.size[1] / shrink >= JPEG_SHRINK_HEADROOM * height
            ):
                return shrink
        return 1

    def _source_for(self, size: tuple[int, int]) -> _Made | None:
        """The smallest rendition at least HEADROOM times ``size`` (or the full image)."""
        width, height = size
        roomy = [
            made
            for made in self.made
            if made.size[0] >= HEADROOM * width and made.size[1] >= HEADROOM * height
        ]
        if roomy:
            return min(roomy, key=lambda made: made.size[0] * made.size[1])
        return self.full  # None: decode the file at the best reduced scale

    def _encode(self, image: pyvips.Image, fmt: OutputFormat, full: bool) -> bytes:
        info = self.jpeg_info if full else None  # its quality guides a full-size re-encode
        options = _EncodeContext(full=full, source=self.format, jpeg=info)
        try:
            data = _ENCODERS[fmt](image, options)
        except pyvips.Error as exc:
            raise PixstashError(f"Could not encode a {fmt.value} variant.") from exc
        return bytes(data)


@dataclass(frozen=True, slots=True)
class _EncodeContext:
    full: bool
    source: SourceFormat
    jpeg: jpeg.JpegInfo | None

    @property
    def lossless_source(self) -> bool:
        return self.source in (SourceFormat.PNG, SourceFormat.TIFF)


def _orientation(image: pyvips.Image) -> int:
    if image.get_typeof("orientation") == 0:
        return 1
    value = image.get("orientation")
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _is_srgb(icc: bytes) -> bool:
    """An embedded profile that names itself sRGB (so pixels need no conversion)."""
    return b"sRGB" in icc[:4096] or b"s\x00R\x00G\x00B" in icc[:4096]


def _has_alpha(image: pyvips.Image) -> bool:
    return bool(image.hasalpha())


def _opaque(image: pyvips.Image) -> pyvips.Image:
    """Transparency composited on white (never black)."""
    if not _has_alpha(image):
        return image
    return image.flatten(background=[255] * (image.bands - 1))


def _jpeg(image: pyvips.Image, options: _EncodeContext) -> bytes:
    quality = JPEG_QUALITY
    if options.full and options.jpeg is not None:
        estimate = options.jpeg.estimated_quality() or JPEG_QUALITY
        low, high = JPEG_FULL_QUALITY_RANGE
        quality = min(max(estimate, low), high)
    params: dict[str, Any] = {
        "Q": quality,
        "keep": "none",
        "optimize_coding": True,
        "interlace": True,
        "quant_table": JPEG_QUANT_TABLE,
    }
    return bytes(_opaque(image).jpegsave_buffer(**params))


def _png(image: pyvips.Image, options: _EncodeContext) -> bytes:
    return bytes(image.pngsave_buffer(compression=PNG_COMPRESSION, filter=PNG_FILTER, keep="none"))


def _webp(image: pyvips.Image, options: _EncodeContext) -> bytes:
    lossless = options.full and options.lossless_source
    return bytes(
        image.webpsave_buffer(Q=WEBP_QUALITY, effort=WEBP_EFFORT, lossless=lossless, keep="none")
    )


def _avif(image: pyvips.Image, options: _EncodeContext) -> bytes:
    """Through Pillow's libavif: it keeps alpha exact, where libheif's alpha is lossy
    (a fully transparent pixel came back 1/255 opaque)."""
    return pillow_encode([to_pillow(image)], OutputFormat.AVIF, EncodeOptions(full=options.full))


_PIL_MODES = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}


def to_pillow(image: pyvips.Image) -> Image.Image:
    """An 8-bit libvips image as a Pillow image (one copy of the pixels)."""
    mode = _PIL_MODES[image.bands]
    return Image.frombytes(mode, (image.width, image.height), image.write_to_memory())


def _gif(image: pyvips.Image, options: _EncodeContext) -> bytes:
    return bytes(image.gifsave_buffer(keep="none"))


_ENCODERS: dict[OutputFormat, Callable[[pyvips.Image, _EncodeContext], bytes]] = {
    OutputFormat.JPEG: _jpeg,
    OutputFormat.PNG: _png,
    OutputFormat.WEBP: _webp,
    OutputFormat.AVIF: _avif,
    OutputFormat.GIF: _gif,
}
