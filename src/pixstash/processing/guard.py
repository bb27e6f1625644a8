"""Safe access to Pillow: one format per file, decoder errors translated, warnings muted.

Pillow's own decompression-bomb check is switched off at import: it would fire inside
``Image.open`` (as a warning, or an error at 2x its limit) before we can apply the
configured budget. Our budget (width x height x frames) is checked from the header,
before any pixel is decoded, in :mod:`pixstash.processing.probe`.
"""

from __future__ import annotations

import struct
import threading
import warnings
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

from PIL import Image, ImageFile

from pixstash.domain.formats import SourceFormat
from pixstash.errors import ImageCorrupt

Image.MAX_IMAGE_PIXELS = None

PIL_FORMAT: dict[SourceFormat, str] = {
    SourceFormat.JPEG: "JPEG",
    SourceFormat.PNG: "PNG",
    SourceFormat.GIF: "GIF",
    SourceFormat.WEBP: "WEBP",
    SourceFormat.AVIF: "AVIF",
    SourceFormat.BMP: "BMP",
    SourceFormat.TIFF: "TIFF",
}

# What Pillow raises on damaged input. IndexError and KeyError come from malformed
# TIFF/EXIF structures. MemoryError is deliberately absent: it is not the file's fault.
DECODER_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    IndexError,
    KeyError,
    struct.error,
    zlib.error,
    Image.DecompressionBombError,
)

# Warnings attributed to Pillow (or to us, for stacklevel=2 warnings) are muted while
# an engine call runs. The filter list is process-global, so it is installed by the
# first concurrent call and removed by the last one, under a lock.
_QUIET_MODULES = r"(PIL|pixstash\.processing)(\.|$)"
_quiet_lock = threading.Lock()
_quiet_depth = 0
_quiet_saved: warnings.catch_warnings | None = None


def _enter_quiet() -> None:
    global _quiet_depth, _quiet_saved
    with _quiet_lock:
        if _quiet_depth == 0:
            saved = warnings.catch_warnings()
            saved.__enter__()
            warnings.filterwarnings("ignore", module=_QUIET_MODULES)
            _quiet_saved = saved
        _quiet_depth += 1


def _leave_quiet() -> None:
    global _quiet_depth, _quiet_saved
    with _quiet_lock:
        _quiet_depth -= 1
        if _quiet_depth == 0 and _quiet_saved is not None:
            _quiet_saved.__exit__(None, None, None)
            _quiet_saved = None


@contextmanager
def quiet_pillow() -> Iterator[None]:
    """Keep Pillow's warnings (corrupt EXIF, malformed MPO...) from reaching callers."""
    _enter_quiet()
    try:
        yield
    finally:
        _leave_quiet()


@contextmanager
def decoding() -> Iterator[None]:
    """Mute Pillow's warnings and turn any decoder failure into ``ImageCorrupt``."""
    with quiet_pillow():
        try:
            yield
        except DECODER_ERRORS as exc:
            raise ImageCorrupt() from exc


def open_image(fp: IO[bytes], fmt: SourceFormat) -> ImageFile.ImageFile:
    """Open ``fp`` with the one Pillow plugin of ``fmt`` (no guessing, no other parser)."""
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        # Someone switched truncation tolerance on globally; we refuse to validate with it.
        raise RuntimeError("PIL.ImageFile.LOAD_TRUNCATED_IMAGES must stay False")
    return Image.open(fp, formats=[PIL_FORMAT[fmt]])
