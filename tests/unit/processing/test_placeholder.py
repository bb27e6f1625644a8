"""Placeholders: BlurHash and dominant colour from a thumbnail, and the tiny PNG back."""

from __future__ import annotations

import io
import random

import blurhash
import pytest
from PIL import Image

from pixstash.processing.placeholder import describe, fit, placeholder_png
from tests import imagegen

RED = (255, 0, 0)
GREEN = (0, 160, 0)
BLUE = (0, 0, 255)


def near(actual: tuple[int, ...], expected: tuple[int, ...], tolerance: int = 24) -> bool:
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True))


def rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def decoded(blurhash_text: str, width: int, height: int) -> Image.Image:
    image = Image.open(io.BytesIO(placeholder_png(blurhash_text, width, height)))
    image.load()
    assert image.format == "PNG"
    return image.convert("RGB")


def pixel(image: Image.Image, x: int, y: int) -> tuple[int, int, int]:
    value = image.getpixel((x, y))
    assert isinstance(value, tuple)
    return value[0], value[1], value[2]


def halves(
    size: tuple[int, int], left: tuple[int, int, int], right: tuple[int, int, int]
) -> Image.Image:
    image = Image.new("RGB", size, right)
    image.paste(left, (0, 0, size[0] // 2, size[1]))
    return image


def test_a_red_image_is_red() -> None:
    found = describe(Image.new("RGB", (160, 120), RED))
    assert found.colour == "#ff0000"
    assert blurhash.components(found.blurhash) == (4, 3)
    assert len(found.blurhash) == 28
    assert near(pixel(decoded(found.blurhash, 160, 120), 10, 10), RED, 2)


def test_dominant_colour_is_the_largest_cluster_not_the_mean() -> None:
    image = Image.new("RGB", (160, 120), GREEN)
    image.paste(RED, (0, 0, 48, 120))  # 30 % red: the mean would be a muddy brown
    assert describe(image).colour == "#00a000"


def test_half_transparent_pixels_are_composited_on_white() -> None:
    image = Image.new("RGBA", (160, 120), (255, 0, 0, 128))
    found = describe(image)
    assert near(rgb(found.colour), (255, 127, 127), 2)
    assert near(pixel(decoded(found.blurhash, 160, 120), 16, 12), (255, 127, 127), 4)


def test_fully_transparent_pixels_are_white_whatever_their_colour() -> None:
    image = Image.new("RGBA", (160, 120), (0, 0, 0, 0))  # transparent black
    image.paste((0, 0, 255, 255), (0, 0, 40, 120))
    found = describe(image)
    assert found.colour == "#ffffff"
    picture = decoded(found.blurhash, 160, 120)
    assert near(pixel(picture, 31, 10), (255, 255, 255), 40)
    assert pixel(picture, 0, 10)[2] > pixel(picture, 0, 10)[0] + 80  # the blue edge


def test_palette_and_grey_images_are_described() -> None:
    with_transparency = Image.new("P", (60, 40), 1)
    with_transparency.putpalette([0, 0, 0, 0, 200, 0])
    with_transparency.info["transparency"] = 0
    with_transparency.paste(0, (0, 0, 45, 40))  # three quarters transparent
    assert describe(with_transparency).colour == "#ffffff"
    assert describe(Image.new("L", (60, 40), 40)).colour == "#282828"
    assert describe(Image.new("LA", (60, 40), (0, 0))).colour == "#ffffff"


def test_the_blurhash_decodes_back_to_the_right_colours_in_the_right_places() -> None:
    found = describe(halves((160, 120), RED, BLUE))
    picture = decoded(found.blurhash, 160, 120)
    width, height = picture.size
    left, right = pixel(picture, 1, height // 2), pixel(picture, width - 2, height // 2)
    assert left[0] > 180 > left[2]
    assert right[2] > 180 > right[0]


def test_portrait_images_get_more_vertical_components() -> None:
    landscape = describe(imagegen.photo(160, 120))
    portrait = describe(imagegen.photo(90, 160))
    square = describe(imagegen.photo(100, 100))
    assert blurhash.components(landscape.blurhash) == (4, 3)
    assert blurhash.components(portrait.blurhash) == (3, 4)
    assert blurhash.components(square.blurhash) == (4, 3)


@pytest.mark.parametrize("size", [(32, 24), (17, 31), (1, 1), (32, 1), (5, 9)])
def test_blurhash_is_exactly_what_the_blurhash_package_writes(size: tuple[int, int]) -> None:
    # Images already at most 32 px are described as they are, so the reference encoder
    # sees the very same pixels.
    rng = random.Random(f"{size}")
    width, height = size
    image = Image.frombytes(
        "RGB", size, bytes(rng.randrange(256) for _ in range(width * height * 3))
    )
    rows = [[pixel(image, x, y) for x in range(width)] for y in range(height)]
    components = (4, 3) if width >= height else (3, 4)
    assert describe(image).blurhash == blurhash.encode(rows, *components)


def test_large_images_are_described_like_their_thumbnail() -> None:
    def scene(size: tuple[int, int]) -> Image.Image:
        image = Image.new("RGB", size, GREEN)
        image.paste(RED, (0, 0, size[0] * 3 // 10, size[1]))
        return image

    large, thumbnail = describe(scene((4000, 3000))), describe(scene((160, 120)))
    assert large.colour == thumbnail.colour
    pictures = decoded(large.blurhash, 4, 3), decoded(thumbnail.blurhash, 4, 3)
    for x, y in ((0, 0), (2, 1), (3, 2)):
        assert near(pixel(pictures[0], x, y), pixel(pictures[1], x, y), 8)


@pytest.mark.parametrize(
    ("width", "height", "expected"),
    [(1200, 800, (32, 21)), (800, 1200, (21, 32)), (10, 5, (10, 5)), (10000, 1, (32, 1))],
)
def test_placeholder_png_keeps_the_aspect_ratio_in_32_px(
    width: int, height: int, expected: tuple[int, int]
) -> None:
    found = describe(Image.new("RGB", (160, 120), GREEN))
    assert decoded(found.blurhash, width, height).size == expected
    assert fit(width, height, 32) == expected


@pytest.mark.parametrize(
    "malformed",
    [
        "",
        "LVHLl",  # too short
        "LVHLl1t7~qxut7j[ofj[~qofof",  # 4x3 needs 28 characters
        "LVHLl1t7~qxut7j[ofj[~qofofof0",  # one too many
        'LVHLl1t7~qxut7j[ofj[~qofo"<',  # not base 83
        "LVHLl1t7~qxut7j[ofj[~qofofö",  # nor this
    ],
)
def test_malformed_blurhash_raises_value_error(malformed: str) -> None:
    with pytest.raises(ValueError, match=r"(?i)blurhash"):
        placeholder_png(malformed, 160, 120)


def test_a_size_that_is_not_positive_raises_value_error() -> None:
    found = describe(Image.new("RGB", (16, 16), RED))
    with pytest.raises(ValueError, match="0x10"):
        placeholder_png(found.blurhash, 0, 10)
