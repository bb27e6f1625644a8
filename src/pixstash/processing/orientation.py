"""EXIF orientation: read it defensively, apply it to every frame."""

from __future__ import annotations

from PIL import ExifTags, Image

from pixstash.processing.guard import DECODER_ERRORS

_TRANSPOSE: dict[int, Image.Transpose] = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def read_orientation(image: Image.Image) -> int:
    """The EXIF Orientation (1-8) of ``image``; 1 when absent, invalid or unreadable.

    A damaged EXIF block is not a reason to refuse an otherwise intact image.
    """
    try:
        value = image.getexif().get(ExifTags.Base.Orientation, 1)
    except DECODER_ERRORS:
        return 1
    return value if isinstance(value, int) and value in _TRANSPOSE else 1


def swaps_axes(orientation: int) -> bool:
    """Orientations 5-8 turn the image a quarter: display width is the stored height."""
    return orientation >= 5


def apply_orientation(image: Image.Image, orientation: int) -> Image.Image:
    """``image`` turned upright (the same object when it already is)."""
    method = _TRANSPOSE.get(orientation)
    return image if method is None else image.transpose(method)
