"""Identify an upload by its magic bytes, check its pixel budget, prove it decodes."""

from __future__ import annotations

from pathlib import Path
from typing import IO

from PIL import ImageFile

from pixstash.domain.formats import SourceFormat, sniff
from pixstash.domain.model import Probe
from pixstash.errors import ImageCorrupt, ImageTooLarge, UnsupportedMediaType
from pixstash.processing import gif, jpeg
from pixstash.processing.guard import decoding, open_image
from pixstash.processing.orientation import read_orientation, swaps_axes

SNIFF_BYTES = 64

# Formats whose extra frames are animation. A multi-page TIFF or an MPO (a JPEG with
# an embedded second picture) is shown, and therefore counted, as its first image.
ANIMATABLE = frozenset({SourceFormat.GIF, SourceFormat.PNG, SourceFormat.WEBP, SourceFormat.AVIF})


def frame_count(image: ImageFile.ImageFile, fmt: SourceFormat) -> int:
    """Frames as declared by the container: headers only, no pixel is decoded."""
    if fmt not in ANIMATABLE:
        return 1
    return max(1, int(getattr(image, "n_frames", 1)))


def check_budget(width: int, height: int, frames: int, max_pixels: int) -> None:
    if width <= 0 or height <= 0:
        raise ImageCorrupt(f"The image is {width}x{height}: it has no pixels.")
    pixels = width * height * frames
    if pixels > max_pixels:
        raise ImageTooLarge(
            f"The image has {pixels:,} pixels ({width}x{height}, {frames} frame(s)); "
            f"the limit is {max_pixels:,}. Downscale it and upload again."
        )


def validate_pixels(
    image: ImageFile.ImageFile, fmt: SourceFormat, frames: int, max_pixels: int, max_bytes: int
) -> int:
    """Decode every frame (JPEG at 1/8 scale) and return the EXIF orientation.

    A reduced JPEG decode still reads all entropy-coded data, so truncation shows.
    A GIF frame may reach beyond the logical screen: Pillow then grows the canvas as
    it seeks (its own bomb check is off, see guard.py), so the limits are checked again
    before each frame is decoded. Found by the fuzzer: a 24x16 GIF whose second frame
    is 50594x6283 allocated 1.3 GB.
    """
    if fmt is SourceFormat.JPEG:
        width, height = image.size
        image.draft(None, (max(1, width // 8), max(1, height // 8)))
    image.load()
    orientation = read_orientation(image)  # a PNG eXIf may follow the pixel data
    for index in range(1, frames):
        image.seek(index)
        check_budget(*image.size, frames, max_pixels)
        check_animation_memory(*image.size, frames, max_bytes)
        image.load()
    return orientation


def ends_complete(fp: IO[bytes], fmt: SourceFormat) -> bool:
    """A JPEG whose last bytes are its EOI marker was not cut short.

    Decoding the entropy-coded data is most of an upload's cost (~2 ms for 200 KB) and
    catches little more than truncation, which this catches for free. Anything unusual
    (no EOI at the very end: truncated, or data appended after the image) still gets a
    full decode. The background job decodes every upload fully anyway and marks an
    image that fails there as failed.
    """
    if fmt is not SourceFormat.JPEG:
        return False
    fp.seek(-2, 2)
    return fp.read(2) == b"\xff\xd9"


# A progressive JPEG's coefficients (or those of a sequential one stored in several
# scans) are buffered whole, even for a reduced-scale decode: 2 bytes per sample, so
# 150 MB for 50 MP at 4:2:0 and 300 MB at 4:4:4. The default admits every such JPEG
# within the default pixel limit.
DEFAULT_MAX_DECODE_BYTES = 320 * 1024 * 1024
# Headers (EXIF, ICC, tables) nearly always fit here; otherwise the whole file is read.
_HEADER_BYTES = 256 * 1024


def check_decode_memory(fp: IO[bytes], fmt: SourceFormat, limit: int) -> None:
    """Refuse a JPEG whose decoder would buffer more than ``limit`` bytes."""
    if fmt is not SourceFormat.JPEG:
        return
    fp.seek(0)
    head = fp.read(_HEADER_BYTES)
    try:
        info = jpeg.read_info(head, headers_only=True)
    except jpeg.NotJpeg:
        fp.seek(0)
        try:
            info = jpeg.read_info(fp.read(), headers_only=True)
        except jpeg.NotJpeg:
            return  # not ours to judge: the decoder will say what is wrong
    if not info.buffers_coefficients:
        return
    needed = info.coefficient_bytes()
    if needed > limit:
        kind = "progressive JPEG" if info.progressive else "JPEG stored in several scans"
        raise ImageTooLarge(
            f"This {kind} needs {needed / 2**20:,.0f} MB to decode; the limit is "
            f"{limit / 2**20:,.0f} MB. Save it as a baseline (non-progressive) JPEG or "
            "downscale it, and upload again."
        )


# Pillow decodes every WebP, still or animated, through libwebp's animation decoder:
# two canvases of 4 bytes a pixel there, the frame copied out as bytes, and Pillow's
# own image. Measured: a 7000x7000 WebP (a few KB on the wire) peaked at 800 MB.
WEBP_BYTES_PER_PIXEL = 16


def check_webp_memory(width: int, height: int, fmt: SourceFormat, limit: int) -> None:
    """Refuse a WebP whose canvas would need more than ``limit`` bytes to decode."""
    if fmt is not SourceFormat.WEBP:
        return
    needed = width * height * WEBP_BYTES_PER_PIXEL
    if needed > limit:
        raise ImageTooLarge(
            f"This {width}x{height} WebP needs {needed / 2**20:,.0f} MB to decode; the "
            f"limit is {limit / 2**20:,.0f} MB. Downscale it and upload again."
        )


# An animation is rendered from all its frames held decoded (with their renditions,
# ~7 bytes a pixel), and the full-size steps (disposal onto the canvas, colour
# conversion, the MP4 and full-size encoders) cost ~28 bytes per canvas pixel more.
# Measured (tests/hostile, a real server): a two-frame 4900x4900 GIF, 100 bytes on the
# wire and within the pixel budget, peaked at 735 MB; 1000 frames of 220x220 used
# ~337 MB over the idle server (6 bytes a pixel had let it through a 320 MB budget).
ANIMATION_BYTES_PER_PIXEL = 7
ANIMATION_BYTES_PER_CANVAS_PIXEL = 28


def check_animation_memory(width: int, height: int, frames: int, limit: int) -> None:
    """Refuse an animation whose render would need more than ``limit`` bytes."""
    if frames <= 1:
        return
    canvas = width * height
    needed = canvas * (frames * ANIMATION_BYTES_PER_PIXEL + ANIMATION_BYTES_PER_CANVAS_PIXEL)
    if needed > limit:
        raise ImageTooLarge(
            f"This {width}x{height} animation of {frames:,} frames needs "
            f"{needed / 2**20:,.0f} MB to process; the limit is {limit / 2**20:,.0f} MB. "
            "Downscale or shorten it and upload again."
        )


def check_gif_canvas(
    fp: IO[bytes], image: ImageFile.ImageFile, frames: int, max_pixels: int, max_bytes: int
) -> None:
    """Apply the limits to the canvas a GIF's frames grow it to, before Pillow seeks
    there: it allocates the grown canvas while seeking, before any check of ours can
    run. Found by the fuzzer: a 24x16 GIF with a 37636x47315 frame took 6.8 GB."""
    fp.seek(0)
    width, height = gif.canvas_size(fp.read())
    width, height = max(width, image.size[0]), max(height, image.size[1])
    check_budget(width, height, frames, max_pixels)
    check_animation_memory(width, height, frames, max_bytes)


# Frames an animation may have (each variant and the MP4 keep them all).
DEFAULT_MAX_FRAMES = 1000


def check_frames(frames: int, max_frames: int) -> None:
    if frames > max_frames:
        raise ImageTooLarge(
            f"The animation has {frames:,} frames; the limit is {max_frames:,}. "
            "Shorten it and upload again."
        )


def probe_image(
    path: Path,
    max_pixels: int,
    max_decode_bytes: int = DEFAULT_MAX_DECODE_BYTES,
    max_frames: int = DEFAULT_MAX_FRAMES,
) -> Probe:
    with path.open("rb") as fp:
        fmt = sniff(fp.read(SNIFF_BYTES))
        if fmt is None:
            raise UnsupportedMediaType()
        complete = ends_complete(fp, fmt)
        fp.seek(0)
        with decoding(), open_image(fp, fmt) as image:
            width, height = image.size
            frames = frame_count(image, fmt)
            check_budget(width, height, frames, max_pixels)
            check_frames(frames, max_frames)
            check_webp_memory(width, height, fmt, max_decode_bytes)
            check_animation_memory(width, height, frames, max_decode_bytes)
            check_decode_memory(fp, fmt, max_decode_bytes)
            if fmt is SourceFormat.GIF:
                check_gif_canvas(fp, image, frames, max_pixels, max_decode_bytes)
            fp.seek(0)
            if complete:
                orientation = read_orientation(image)  # EXIF precedes the scan data
            else:
                orientation = validate_pixels(image, fmt, frames, max_pixels, max_decode_bytes)
    if swaps_axes(orientation):
        width, height = height, width
    return Probe(fmt, width, height, frames)
