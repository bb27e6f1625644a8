"""Decode a stored original once into upright, sRGB, metadata-free frames."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, ImageFile, JpegImagePlugin

from pixstash.domain.formats import SourceFormat
from pixstash.domain.variants import VariantSpec
from pixstash.processing.colour import SrgbConverter, has_alpha
from pixstash.processing.guard import decoding, open_image
from pixstash.processing.orientation import apply_orientation, read_orientation, swaps_axes
from pixstash.processing.probe import frame_count
from pixstash.processing.resize import decode_size

DEFAULT_DURATION_MS = 100
# Browsers show GIF frames of 10 ms or less for 100 ms; other formats would not.
MIN_DURATION_MS = 11


@dataclass(frozen=True, slots=True)
class JpegTables:
    """How the source JPEG was quantised, so its full-size re-encode keeps its quality."""

    qtables: tuple[tuple[int, ...], ...]
    subsampling: int


@dataclass(slots=True)
class Decoded:
    """The source, decoded once. ``frames`` may be smaller than ``width`` x ``height``
    (a JPEG decoded at reduced scale); those give the full-resolution display size."""

    frames: list[Image.Image]
    width: int
    height: int
    durations: list[int]
    loop: int | None  # None: play once (a GIF without a loop extension)
    palette: Image.Image | None = None  # single-frame palette source, for lossless PNG/GIF
    jpeg_tables: JpegTables | None = None


def decode(
    path: Path, fmt: SourceFormat, specs: Sequence[VariantSpec], *, all_frames: bool = True
) -> Decoded:
    """Decode ``path`` at the smallest scale that still serves every spec in ``specs``.

    With ``all_frames`` false only the first frame is decoded (no output is animated).
    """
    with path.open("rb") as fp, decoding(), open_image(fp, fmt) as image:
        return _decode_open(image, fmt, specs, all_frames)


def _decode_open(
    image: ImageFile.ImageFile, fmt: SourceFormat, specs: Sequence[VariantSpec], all_frames: bool
) -> Decoded:
    count = frame_count(image, fmt) if all_frames else 1
    stored_width, stored_height = image.size
    tables = _jpeg_tables(image) if fmt is SourceFormat.JPEG else None
    if fmt is SourceFormat.JPEG:
        _draft(image, specs)
    image.load()
    orientation = read_orientation(image)
    icc_profile = image.info.get("icc_profile")
    loop = _loop(image.info, fmt) if count > 1 else None
    raw, durations = _read_frames(image, count)
    width, height = stored_width, stored_height
    if swaps_axes(orientation):
        width, height = height, width
    converter = SrgbConverter(icc_profile)
    frames = [converter.convert(apply_orientation(frame, orientation)) for frame in raw]
    if count > 1:
        frames = _same_mode(frames)
    palette = None
    if count == 1 and raw[0].mode == "P" and not converter.converts:
        palette = _strip(apply_orientation(raw[0], orientation), keep=("transparency",))
    return Decoded(
        frames=[_strip(frame) for frame in frames],
        width=width,
        height=height,
        durations=durations,
        loop=loop,
        palette=palette,
        jpeg_tables=tables,
    )


def _draft(image: ImageFile.ImageFile, specs: Sequence[VariantSpec]) -> None:
    """Let libjpeg decode at 1/2, 1/4 or 1/8 scale when every target is small enough."""
    orientation = read_orientation(image)
    width, height = image.size
    if swaps_axes(orientation):
        width, height = height, width
    needed = decode_size(specs, width, height)
    if needed is None:
        return
    if swaps_axes(orientation):
        needed = needed[1], needed[0]
    image.draft(None, needed)


def _read_frames(image: ImageFile.ImageFile, count: int) -> tuple[list[Image.Image], list[int]]:
    frames: list[Image.Image] = []
    durations: list[int] = []
    for index in range(count):
        if index:
            image.seek(index)
            image.load()
        frames.append(image.copy())
        durations.append(_duration(image.info.get("duration")))
    return frames, durations


def _duration(value: object) -> int:
    if not isinstance(value, int | float) or value < MIN_DURATION_MS:
        return DEFAULT_DURATION_MS
    return round(value)


def _loop(info: dict[str | tuple[int, int], Any], fmt: SourceFormat) -> int | None:
    loop = info.get("loop")
    if isinstance(loop, int) and loop >= 0:
        return loop
    # A GIF without a NETSCAPE loop extension plays once; AVIF sequences carry no
    # loop count that Pillow exposes, and are made to loop.
    return None if fmt is SourceFormat.GIF else 0


def _same_mode(frames: list[Image.Image]) -> list[Image.Image]:
    """Animated frames share one mode: RGBA if any frame has alpha, else RGB."""
    mode = "RGBA" if any(has_alpha(frame) for frame in frames) else "RGB"
    return [frame if frame.mode == mode else frame.convert(mode) for frame in frames]


def _strip(image: Image.Image, keep: tuple[str, ...] = ()) -> Image.Image:
    """Drop every piece of metadata Pillow would otherwise carry into an encoder."""
    image.info = {key: image.info[key] for key in keep if key in image.info}
    return image


def _jpeg_tables(image: ImageFile.ImageFile) -> JpegTables | None:
    quantization = getattr(image, "quantization", None)
    if not isinstance(quantization, dict) or not 0 < len(quantization) <= 4:
        return None
    tables = tuple(tuple(quantization[key]) for key in sorted(quantization))
    if any(len(table) != 64 or not all(0 < v < 256 for v in table) for table in tables):
        return None  # 16-bit tables: let the encoder pick its own
    subsampling = JpegImagePlugin.get_sampling(image)
    return JpegTables(qtables=tables, subsampling=subsampling if subsampling >= 0 else 2)
