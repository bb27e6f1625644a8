"""Pixel modes and colour: every decoded frame ends as L, LA, RGB or RGBA in sRGB."""

from __future__ import annotations

import io

from PIL import Image, ImageCms

WORKING_MODES = frozenset({"L", "LA", "RGB", "RGBA"})
_ALPHA_MODES = frozenset({"LA", "RGBA"})
_SIMPLE: dict[str, str] = {
    "1": "L",
    "La": "LA",
    "PA": "RGBA",
    "RGBa": "RGBA",
    "RGBX": "RGB",
    "YCbCr": "RGB",
    "LAB": "RGB",
    "HSV": "RGB",
}


def has_alpha(image: Image.Image) -> bool:
    return image.mode in _ALPHA_MODES


def is_transparent(image: Image.Image) -> bool:
    """Whether any pixel is less than opaque (an alpha channel alone is not enough)."""
    if not has_alpha(image):
        return False
    low, _ = _band_extrema(image.getchannel("A"))
    return low < 255


def _band_extrema(band: Image.Image) -> tuple[float, float]:
    """Lowest and highest value of a single-band image."""
    low, high = band.getextrema()
    assert isinstance(low, int | float)
    assert isinstance(high, int | float)
    return float(low), float(high)


def _scale_to_8bit(image: Image.Image) -> Image.Image:
    """I;16, I and F images to L, keeping the level: 16-bit mid-grey stays mid-grey."""
    if image.mode == "F":
        _, high = _band_extrema(image)
        scale = 255.0 if high <= 1.0 else 255.0 / max(high, 255.0)
        return image.point(lambda v: v * scale).convert("L")
    wide = image if image.mode == "I" else image.convert("I")
    _, high = _band_extrema(wide)
    if high <= 255:
        return wide.convert("L")
    scale = 255.0 / max(high, 65535.0)
    return wide.point(lambda v: v * scale).convert("L")


def to_standard_mode(image: Image.Image) -> Image.Image:
    """One of L, LA, RGB, RGBA, or CMYK (left for the ICC step to convert)."""
    mode = image.mode
    if mode in WORKING_MODES or mode == "CMYK":
        return image
    if mode == "P":
        return image.convert("RGBA" if image.has_transparency_data else "RGB")
    if mode.startswith("I") or mode == "F":
        return _scale_to_8bit(image)
    return image.convert(_SIMPLE.get(mode, "RGB"))


class SrgbConverter:
    """Converts frames from the source's embedded ICC profile to sRGB.

    One transform is built per pixel mode and reused for every frame. A profile that
    cannot be read, or that does not match the pixel mode, is ignored: the pixels are
    then taken as sRGB already, which is what browsers do too.
    """

    def __init__(self, icc_profile: bytes | None) -> None:
        self._source = _read_profile(icc_profile)
        self._transforms: dict[str, ImageCms.ImageCmsTransform | None] = {}

    @property
    def converts(self) -> bool:
        """Whether the source has a profile other than sRGB that will be applied."""
        return self._source is not None

    def convert(self, image: Image.Image) -> Image.Image:
        image = to_standard_mode(image)
        if self._source is not None:
            image = self._apply(image)
        if image.mode == "CMYK":  # no usable profile: Pillow's plain conversion
            image = image.convert("RGB")
        return image

    def _apply(self, image: Image.Image) -> Image.Image:
        alpha = image.getchannel("A") if has_alpha(image) else None
        colour = image.convert(image.mode[:-1]) if alpha is not None else image
        transform = self._transform(colour.mode)
        if transform is None:
            return image
        converted = ImageCms.applyTransform(colour, transform)
        assert converted is not None
        if colour.mode == "L":  # a grey source stays grey
            converted = converted.convert("L")
        if alpha is not None:
            converted.putalpha(alpha)
        return converted

    def _transform(self, mode: str) -> ImageCms.ImageCmsTransform | None:
        if mode not in self._transforms:
            self._transforms[mode] = _build_transform(self._source, mode)
        return self._transforms[mode]


def _read_profile(icc_profile: bytes | None) -> ImageCms.ImageCmsProfile | None:
    if not icc_profile:
        return None
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc_profile))
        description = ImageCms.getProfileDescription(profile)
    except (ImageCms.PyCMSError, OSError, TypeError, ValueError):
        return None
    if description.strip().lower().startswith("srgb"):
        return None  # already the target space: skip a costly identity transform
    return profile


def _build_transform(
    source: ImageCms.ImageCmsProfile | None, mode: str
) -> ImageCms.ImageCmsTransform | None:
    if source is None:
        return None
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
    try:
        return ImageCms.buildTransform(source, srgb, mode, "RGB")
    except (ImageCms.PyCMSError, OSError, TypeError, ValueError):
        return None
