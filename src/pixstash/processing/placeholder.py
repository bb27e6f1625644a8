"""Placeholders a page shows while an image loads: a BlurHash and the dominant colour.

Both come from one tiny opaque copy of the image (at most 32 px on the long side): a
BlurHash keeps only a few cosine components, so more pixels would cost time (the encoder
is pure Python) and change nothing visible. Transparent pixels are composited on white,
the background pages show images on.
"""

from __future__ import annotations

import functools
import io
import math
import operator

import blurhash
from PIL import Image

from pixstash.domain.model import Placeholder

SMALL_SIDE = 32  # long side of the copy that is described, and of the decoded PNG
PALETTE_SIZE = 5  # colour clusters the dominant colour is picked from
_COMPONENTS = (4, 3)  # (long side, short side): 28 characters
_WHITE = (255, 255, 255, 255)
_SRGB_TO_LINEAR = tuple(blurhash.srgb_to_linear(value) for value in range(256))
_BASE83_DIGITS = (
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#$%*+,-.:;=?@[]^_{|}~"
)
_BASE83 = frozenset(_BASE83_DIGITS)


def describe(image: Image.Image) -> Placeholder:
    """The placeholder of a decoded image (a thumbnail is plenty; any size works):
    a BlurHash of 4x3 components (3x4 when portrait) and the dominant colour.
    CPU-bound (~0.5 ms for a 160 px thumbnail): call it where the other processing runs."""
    small = _small_opaque(image)
    return Placeholder(blurhash=_encode(small), colour=_dominant_colour(small))


@functools.lru_cache(maxsize=512)
def placeholder_png(blurhash_text: str, width: int, height: int) -> bytes:
    """A tiny PNG of a BlurHash for an image of ``width`` x ``height`` (aspect ratio kept,
    at most 32 px on the long side), for a ``data:`` URL. Cached: pages ask for the same
    one again and again, and the decoder is pure Python (a few ms).

    Raises ValueError for a malformed BlurHash or a size that is not positive.
    """
    if width < 1 or height < 1:
        raise ValueError(f"no placeholder for a {width}x{height} image")
    if not set(blurhash_text) <= _BASE83:
        raise ValueError("a BlurHash is written in base 83 characters only")
    size = fit(width, height, SMALL_SIDE)
    try:
        rows = blurhash.decode(blurhash_text, *size)
    except (ValueError, IndexError) as exc:
        raise ValueError(f"malformed BlurHash {blurhash_text!r}: {exc}") from None
    pixels = bytes(channel for row in rows for pixel in row for channel in pixel)
    out = io.BytesIO()
    Image.frombytes("RGB", size, pixels).save(out, "PNG")
    return out.getvalue()


def fit(width: int, height: int, long_side: int) -> tuple[int, int]:
    """``width`` x ``height`` scaled down (never up) to ``long_side``, aspect ratio kept."""
    scale = min(1.0, long_side / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _small_opaque(image: Image.Image) -> Image.Image:
    """An RGB copy at most ``SMALL_SIDE`` px long, transparency composited on white."""
    transparent = image.has_transparency_data
    mode = "RGBA" if transparent else "RGB"
    if image.mode != mode:
        image = image.convert(mode)
    size = fit(image.width, image.height, SMALL_SIDE)
    if size != image.size:  # BOX averages every source pixel; Pillow premultiplies alpha
        image = image.resize(size, Image.Resampling.BOX, reducing_gap=3.0)
    if transparent:
        image = Image.alpha_composite(Image.new("RGBA", size, _WHITE), image).convert("RGB")
    return image


def _encode(small: Image.Image) -> str:
    """The BlurHash of an RGB image, as ``blurhash.encode(..., 4, 3)`` writes it.

    The package's encoder sums every pixel once per component (~4 ms here); the cosine
    basis is separable, so rows are summed once per x component and those sums once per
    y component (~0.5 ms). Quantisation and layout follow the package exactly; a test
    holds the two to the same strings.
    """
    width, height = small.size
    long_side, short_side = _COMPONENTS
    size_x, size_y = (long_side, short_side) if width >= height else (short_side, long_side)
    components = _components(small, size_x, size_y)
    dc, ac = components[0], components[1:]
    largest = max((abs(value) for component in ac for value in component), default=0.0)
    quantised_max = int(max(0, min(82, math.floor(largest * 166 - 0.5))))
    scale = (quantised_max + 1) / 166
    red, green, blue = (blurhash.linear_to_srgb(value) for value in dc)
    dc_value = red << 16 | green << 8 | blue
    return "".join(
        (
            _base83(size_x - 1 + (size_y - 1) * 9, 1),
            _base83(quantised_max, 1),
            _base83(dc_value, 4),
            *(_base83(_quantise_ac(component, scale), 2) for component in ac),
        )
    )


def _components(small: Image.Image, size_x: int, size_y: int) -> list[tuple[float, ...]]:
    """Linear-light RGB cosine components, y-major (DC first), as BlurHash orders them."""
    width, height = small.size
    cos_x, cos_y = _cosines(width, size_x), _cosines(height, size_y)
    planes = [[_SRGB_TO_LINEAR[value] for value in band.tobytes()] for band in small.split()]
    # row_sums[channel][y][i]: row y of the channel weighted by the i-th x cosine
    row_sums = [
        [
            [sum(map(operator.mul, cosine, plane[start : start + width])) for cosine in cos_x]
            for start in range(0, width * height, width)
        ]
        for plane in planes
    ]
    components = []
    for j, y_cosine in enumerate(cos_y):
        for i in range(size_x):
            norm = (1.0 if i == j == 0 else 2.0) / (width * height)
            components.append(
                tuple(
                    norm * sum(weight * row[i] for weight, row in zip(y_cosine, rows, strict=True))
                    for rows in row_sums
                )
            )
    return components


@functools.cache
def _cosines(length: int, count: int) -> list[list[float]]:
    return [[math.cos(math.pi * k * n / length) for n in range(length)] for k in range(count)]


def _quantise_ac(component: tuple[float, ...], scale: float) -> int:
    value = 0
    for channel in component:
        signed_root = math.copysign(math.sqrt(abs(channel / scale)), channel)
        value = value * 19 + int(max(0.0, min(18.0, math.floor(signed_root * 9 + 9.5))))
    return value


def _base83(value: int, length: int) -> str:
    return "".join(_BASE83_DIGITS[value // 83**place % 83] for place in reversed(range(length)))


def _dominant_colour(small: Image.Image) -> str:
    """The mean colour of the largest cluster (median cut), not the mean of all pixels:
    a red flower on green leaves is green, not brown."""
    clustered = small.quantize(PALETTE_SIZE, method=Image.Quantize.MEDIANCUT)
    counts = clustered.histogram()  # pixels per palette index
    index = max(range(len(counts)), key=counts.__getitem__)  # ties: the first cluster
    palette = clustered.getpalette()
    assert palette is not None
    red, green, blue = palette[3 * index : 3 * index + 3]
    return f"#{red:02x}{green:02x}{blue:02x}"
