"""Variant geometry and encoding choices, through the engine."""

from __future__ import annotations

import pytest
from PIL import Image, JpegImagePlugin

from pixstash.domain.formats import OutputFormat, SourceFormat
from pixstash.domain.variants import (
    ALL_VARIANTS,
    BIG_SQUARE,
    FULL,
    HUGE,
    LARGE,
    MEDIUM,
    SMALL_SQUARE,
    THUMB,
)
from pixstash.processing.engines import make_engine

RED = (255, 0, 0)
GREEN = (0, 255, 0)
BLUE = (0, 0, 255)


def _thirds(size: tuple[int, int]) -> Image.Image:
    """Red, green and blue vertical thirds: the centre square is all green."""
    width, height = size
    image = Image.new("RGB", size, GREEN)
    image.paste(RED, (0, 0, width // 3, height))
    image.paste(BLUE, (2 * width // 3, 0, width, height))
    return image


def test_boxes_fit_the_longest_side(engine, samples) -> None:
    path = samples.save(_thirds((1200, 600)), "PNG")
    specs = [FULL, THUMB, MEDIUM, LARGE, HUGE, SMALL_SQUARE, BIG_SQUARE]

    rendered = engine.render(path, SourceFormat.PNG, [(s, OutputFormat.JPEG) for s in specs])

    sizes = [(r.width, r.height) for r in rendered]
    assert sizes == [
        (1200, 600),
        (160, 80),
        (320, 160),
        (640, 320),
        (1024, 512),
        (90, 90),
        (160, 160),
    ]
    for r in rendered:
        with samples.open_rendered(r) as image:
            assert image.size == (r.width, r.height)
            assert image.format == "JPEG"


def test_small_images_are_never_upscaled(engine, samples) -> None:
    path = samples.save(_thirds((100, 50)), "PNG")

    rendered = engine.render(path, SourceFormat.PNG, [(s, OutputFormat.PNG) for s in ALL_VARIANTS])

    sizes = {spec.name: (r.width, r.height) for spec, r in zip(ALL_VARIANTS, rendered, strict=True)}
    assert sizes == {
        "full": (100, 50),
        "small": (50, 50),
        "big": (50, 50),
        "thumb": (100, 50),
        "medium": (100, 50),
        "large": (100, 50),
        "huge": (100, 50),
    }


@pytest.mark.parametrize("spec", [SMALL_SQUARE, BIG_SQUARE])
def test_pillow_square_crops_take_the_centre(samples, spec) -> None:
    path = samples.save(_thirds((600, 200)), "PNG")

    (rendered,) = make_engine("pillow").render(path, SourceFormat.PNG, [(spec, OutputFormat.PNG)])
    image = samples.open_rendered(rendered)

    assert image.size == (spec.box, spec.box)
    for point in ((0, 0), (spec.box - 1, spec.box - 1), (spec.box // 2, spec.box // 2)):
        assert samples.near(image.getpixel(point), GREEN, 30)


def test_results_follow_the_order_of_targets(engine, samples) -> None:
    path = samples.save(_thirds((800, 400)), "JPEG")
    targets = [
        (THUMB, OutputFormat.WEBP),
        (FULL, OutputFormat.JPEG),
        (SMALL_SQUARE, OutputFormat.PNG),
        (LARGE, OutputFormat.AVIF),
        (THUMB, OutputFormat.JPEG),
    ]

    rendered = engine.render(path, SourceFormat.JPEG, targets)

    assert [(r.width, r.height) for r in rendered] == [
        (160, 80),
        (800, 400),
        (90, 90),
        (640, 320),
        (160, 80),
    ]
    formats = [samples.open_rendered(r).format for r in rendered]
    assert formats == ["WEBP", "JPEG", "PNG", "AVIF", "JPEG"]
    assert engine.render(path, SourceFormat.JPEG, []) == []


def test_full_jpeg_keeps_the_source_quantisation(engine, samples) -> None:
    photo = Image.effect_noise((320, 200), 40).convert("RGB")
    path = samples.save(photo, "JPEG", quality=95, subsampling="4:4:4")
    with Image.open(path) as source:
        source_tables = source.quantization

    full, thumb, medium = engine.render(
        path,
        SourceFormat.JPEG,
        [(FULL, OutputFormat.JPEG), (THUMB, OutputFormat.JPEG), (MEDIUM, OutputFormat.JPEG)],
    )

    with samples.open_rendered(full) as image:
        assert image.quantization == source_tables
        assert JpegImagePlugin.get_sampling(image) == 0  # 4:4:4, as uploaded
    with samples.open_rendered(thumb) as image:
        assert image.quantization != source_tables  # quality 85
        assert JpegImagePlugin.get_sampling(image) == 2  # 4:2:0
    assert medium.data == full.data  # a box the image fits in is the full image


def test_webp_is_lossless_for_full_size_png_sources(engine, samples) -> None:
    source = Image.effect_noise((200, 100), 60).convert("RGB")
    path = samples.save(source, "PNG")

    full, thumb = engine.render(
        path, SourceFormat.PNG, [(FULL, OutputFormat.WEBP), (THUMB, OutputFormat.WEBP)]
    )

    assert full.data[12:16] == b"VP8L"  # the lossless bitstream
    assert samples.open_rendered(full).tobytes() == source.tobytes()
    assert thumb.data[12:16] != b"VP8L"


def test_big_jpegs_render_smooth_small_variants(engine, samples) -> None:
    """Decoded at reduced scale, resized from each other: still the right picture."""
    path = samples.save(_thirds((2400, 1200)), "JPEG", quality=90)

    rendered = engine.render(
        path, SourceFormat.JPEG, [(s, OutputFormat.PNG) for s in (LARGE, MEDIUM, THUMB, BIG_SQUARE)]
    )

    for r in rendered[:3]:  # (where a square crop lands is the engine's choice)
        image = samples.open_rendered(r)
        width, height = image.size
        assert samples.near(image.getpixel((width // 2, height // 2)), GREEN, 30)
        if r.width != r.height:
            assert samples.near(image.getpixel((2, height // 2)), RED, 30)
            assert samples.near(image.getpixel((width - 3, height // 2)), BLUE, 30)
    assert (rendered[3].width, rendered[3].height) == (160, 160)


@pytest.mark.parametrize("fmt", ["BMP", "TIFF"])
def test_bmp_and_tiff_sources_render(samples, render, fmt: str) -> None:
    path = samples.save(_thirds((90, 30)), fmt)

    image = samples.open_rendered(render(path, SourceFormat(fmt.lower()), OutputFormat.PNG))

    assert image.size == (90, 30)
    assert image.getpixel((45, 15)) == GREEN
