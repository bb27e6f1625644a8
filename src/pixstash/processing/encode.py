"""Encoders: one small function per output format, never any metadata.

Frames reaching here carry an empty ``info`` (a palette source keeps only its
``transparency``), and no encoder is given exif, xmp, icc_profile or comment, so the
output holds pixels and timing only.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from PIL import Image

from pixstash.domain.formats import OutputFormat
from pixstash.processing.colour import has_alpha, is_transparent
from pixstash.processing.decode import JpegTables
from pixstash.processing.quantize import TRANSPARENT_INDEX, to_gif_frames

JPEG_QUALITY = 85
JPEG_SUBSAMPLING_420 = 2
WEBP_QUALITY = 80
WEBP_METHOD = 4
# Measured on the bench corpus's photos (docs/BENCHMARKS.md): quality 70 is 21-29%
# smaller than a libjpeg quality-85 JPEG of the same variant at a higher luma SSIM; 60
# was ~45% smaller but below that JPEG's SSIM.
AVIF_QUALITY = 70
AVIF_SPEED = 6
_VP8X_ALPHA_FLAG = 0x10


@dataclass(frozen=True, slots=True)
class EncodeOptions:
    full: bool = False  # the variant keeps the original size
    lossless_source: bool = False  # PNG, GIF, BMP or TIFF
    jpeg_tables: JpegTables | None = None  # the source's, for its full-size JPEG
    durations: tuple[int, ...] = ()  # per frame, milliseconds
    loop: int | None = 0  # 0 = forever, None = play once

    @property
    def plays(self) -> int:
        """Loop count as WebP and APNG take it (number of plays, 0 = forever)."""
        return 1 if self.loop is None else self.loop


def encode(frames: Sequence[Image.Image], fmt: OutputFormat, options: EncodeOptions) -> bytes:
    """Encode ``frames`` (one, or an animation's composed canvases) as ``fmt``."""
    out = io.BytesIO()
    _ENCODERS[fmt](list(frames), out, options)
    return out.getvalue()


def flatten_on_white(image: Image.Image) -> Image.Image:
    """Composite transparency onto white (transparent pixels must not turn black)."""
    if not has_alpha(image):
        return image
    base = image.mode[:-1]
    background = Image.new(base, image.size, "white")
    background.paste(image.convert(base), mask=image.getchannel("A"))
    return background


def _jpeg(frames: list[Image.Image], out: io.BytesIO, options: EncodeOptions) -> None:
    image = flatten_on_white(frames[0])
    params: dict[str, Any] = {"optimize": True, "progressive": True}
    tables = options.jpeg_tables if options.full else None
    if tables is not None:
        params.update(qtables=tables.qtables, subsampling=tables.subsampling)
    else:
        params.update(quality=JPEG_QUALITY, subsampling=JPEG_SUBSAMPLING_420)
    image.save(out, "JPEG", **params)


def _png(frames: list[Image.Image], out: io.BytesIO, options: EncodeOptions) -> None:
    if len(frames) == 1:
        frames[0].save(out, "PNG", optimize=True)
        return
    # Frames are full canvases: each one replaces the last (dispose none, blend source).
    frames[0].save(
        out,
        "PNG",
        save_all=True,
        append_images=frames[1:],
        duration=list(options.durations),
        loop=options.plays,
        disposal=0,
        blend=0,
        optimize=True,
    )


def _gif(frames: list[Image.Image], out: io.BytesIO, options: EncodeOptions) -> None:
    if frames[0].mode == "P":  # the untouched palette of a palette source
        frames[0].save(out, "GIF")
        return
    transparent = any(is_transparent(frame) for frame in frames)
    paletted = to_gif_frames(frames, reserve_transparent=transparent)
    params: dict[str, Any] = {}
    if transparent:
        # Full canvases with holes: clear to transparent before drawing the next one.
        params.update(transparency=TRANSPARENT_INDEX, disposal=2)
    if len(frames) > 1:
        params.update(save_all=True, append_images=paletted[1:], duration=list(options.durations))
        if options.loop is not None:
            params["loop"] = options.loop
    paletted[0].save(out, "GIF", **params)


def _webp(frames: list[Image.Image], out: io.BytesIO, options: EncodeOptions) -> None:
    params: dict[str, Any] = {
        "quality": WEBP_QUALITY,
        "method": WEBP_METHOD,
        "lossless": options.full and options.lossless_source,
    }
    if len(frames) == 1:
        frames[0].save(out, "WEBP", **params)
        return
    frames[0].save(
        out,
        "WEBP",
        save_all=True,
        append_images=frames[1:],
        duration=list(options.durations),
        loop=options.plays,
        **params,
    )
    if any(is_transparent(frame) for frame in frames):
        _set_webp_alpha_flag(out)


def _set_webp_alpha_flag(out: io.BytesIO) -> None:
    """Declare alpha in VP8X when the canvas has holes.

    libwebp's animation encoder sets the flag only when a frame's bitstream has alpha;
    holes made by disposal alone leave it unset and decoders then show them black.
    """
    data = out.getbuffer()
    if bytes(data[12:16]) == b"VP8X":
        data[20] |= _VP8X_ALPHA_FLAG
    del data


def _avif(frames: list[Image.Image], out: io.BytesIO, options: EncodeOptions) -> None:
    frames[0].save(out, "AVIF", quality=AVIF_QUALITY, speed=AVIF_SPEED)


_ENCODERS: dict[OutputFormat, Callable[[list[Image.Image], io.BytesIO, EncodeOptions], None]] = {
    OutputFormat.JPEG: _jpeg,
    OutputFormat.PNG: _png,
    OutputFormat.GIF: _gif,
    OutputFormat.WEBP: _webp,
    OutputFormat.AVIF: _avif,
}
