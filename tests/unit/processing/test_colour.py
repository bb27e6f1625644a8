"""Pixel modes, transparency and ICC: what comes out looks like what went in."""

from __future__ import annotations

import pytest
from PIL import Image, ImageCms

from pixstash.domain.formats import OutputFormat, SourceFormat
from pixstash.domain.variants import FULL, MEDIUM, THUMB

RED = (255, 0, 0)
GREEN = (0, 255, 0)
WHITE = (255, 255, 255)


def _half_transparent() -> Image.Image:
    """Left half opaque red, right half fully transparent (colour under it: black)."""
    image = Image.new("RGBA", (64, 32), (0, 0, 0, 0))
    image.paste((*RED, 255), (0, 0, 32, 32))
    return image


def test_transparency_becomes_white_in_jpeg(samples, render) -> None:
    path = samples.save(_half_transparent(), "PNG")

    for spec in (FULL, THUMB):
        image = samples.open_rendered(render(path, SourceFormat.PNG, OutputFormat.JPEG, spec))
        width, height = image.size
        assert image.mode == "RGB"
        assert samples.near(image.getpixel((width * 7 // 8, height // 2)), WHITE, 8)
        assert samples.near(image.getpixel((width // 8, height // 2)), RED)


def test_semi_transparent_pixels_blend_with_white(samples, render) -> None:
    path = samples.save(Image.new("RGBA", (16, 16), (0, 0, 0, 128)), "PNG")

    image = samples.open_rendered(render(path, SourceFormat.PNG, OutputFormat.JPEG))

    assert samples.near(image.getpixel((8, 8)), (127, 127, 127), 6)


@pytest.mark.parametrize("output", [OutputFormat.PNG, OutputFormat.WEBP, OutputFormat.AVIF])
def test_alpha_is_kept(samples, render, output: OutputFormat) -> None:
    path = samples.save(_half_transparent(), "PNG")

    for spec in (FULL, THUMB):
        image = samples.open_rendered(render(path, SourceFormat.PNG, output, spec)).convert("RGBA")
        width, height = image.size
        assert image.getpixel((width * 7 // 8, height // 2))[3] == 0
        assert samples.near(image.getpixel((width // 8, height // 2)), (*RED, 255))


def test_transparency_is_kept_in_gif(samples, render) -> None:
    path = samples.save(_half_transparent(), "PNG")

    image = samples.open_rendered(render(path, SourceFormat.PNG, OutputFormat.GIF, THUMB))

    rgba = image.convert("RGBA")
    assert rgba.getpixel((rgba.width - 2, 2))[3] == 0
    assert samples.near(rgba.getpixel((2, 2)), (*RED, 255))


def test_palette_png_stays_palette_at_full_size(samples, render) -> None:
    source = _half_transparent().convert("P")
    path = samples.save(source, "PNG", transparency=source.getpixel((63, 0)))

    image = samples.open_rendered(render(path, SourceFormat.PNG, OutputFormat.PNG))

    assert image.mode == "P"
    rgba = image.convert("RGBA")
    assert rgba.getpixel((63, 0))[3] == 0
    assert rgba.getpixel((0, 0)) == (*RED, 255)


def test_cmyk_jpeg_renders_as_rgb(samples, render) -> None:
    path = samples.save(Image.new("CMYK", (32, 32), (0, 255, 255, 0)), "JPEG")  # Adobe, inverted

    for output in (OutputFormat.JPEG, OutputFormat.PNG, OutputFormat.WEBP):
        image = samples.open_rendered(render(path, SourceFormat.JPEG, output, THUMB))
        assert image.mode == "RGB"
        # Through a CMYK profile, process magenta + yellow is a slightly muted red.
        assert samples.near(image.getpixel((16, 16)), RED, 50)


def test_sixteen_bit_grey_png_keeps_its_levels(samples, render) -> None:
    source = Image.new("I;16", (64, 32), 49152)
    source.paste(Image.new("I;16", (32, 32), 16384), (0, 0))  # (pasting an int > 32767 fails)
    path = samples.save(source, "PNG")
    with Image.open(path) as opened:
        assert opened.mode == "I;16"

    for output in (OutputFormat.PNG, OutputFormat.JPEG, OutputFormat.WEBP):
        image = samples.open_rendered(render(path, SourceFormat.PNG, output)).convert("L")
        assert samples.near(image.getpixel((8, 16)), 64, 6)
        assert samples.near(image.getpixel((56, 16)), 192, 6)


def test_sixteen_bit_mid_grey_stays_mid_grey(samples, render) -> None:
    path = samples.save(Image.new("I;16", (32, 32), 32768), "PNG")

    image = samples.open_rendered(render(path, SourceFormat.PNG, OutputFormat.PNG, THUMB))

    assert samples.near(image.convert("L").getpixel((16, 16)), 128, 2)


def test_greyscale_jpeg_stays_greyscale(samples, render) -> None:
    path = samples.save(Image.linear_gradient("L").resize((64, 64)), "JPEG")

    image = samples.open_rendered(render(path, SourceFormat.JPEG, OutputFormat.JPEG))
    thumb = samples.open_rendered(render(path, SourceFormat.JPEG, OutputFormat.PNG, THUMB))

    assert image.mode == "L"
    assert thumb.mode == "L"
    assert image.getpixel((32, 2)) < 30
    assert image.getpixel((32, 61)) > 225


def test_bilevel_and_palette_sources(samples, render) -> None:
    bilevel = samples.save(Image.new("1", (32, 16), 1), "BMP")
    palette = samples.save(Image.new("RGB", (32, 16), RED).convert("P"), "GIF")

    white = samples.open_rendered(render(bilevel, SourceFormat.BMP, OutputFormat.JPEG))
    red = samples.open_rendered(render(palette, SourceFormat.GIF, OutputFormat.WEBP, THUMB))

    assert samples.near(white.convert("RGB").getpixel((4, 4)), WHITE, 4)
    assert samples.near(red.getpixel((4, 4)), RED)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "TIFF"])
def test_embedded_profile_is_converted_to_srgb(samples, render, fmt: str) -> None:
    """In the swapped-primaries profile, stored pure red means what sRGB calls green."""
    path = samples.save(
        Image.new("RGB", (32, 32), RED), fmt, icc_profile=samples.swapped_rgb_profile()
    )

    for output in (OutputFormat.PNG, OutputFormat.JPEG):
        rendered = render(path, SourceFormat(fmt.lower()), output, MEDIUM)
        image = samples.open_rendered(rendered)
        assert samples.near(image.getpixel((16, 16)), GREEN, 50)
        assert "icc_profile" not in image.info


def test_profile_conversion_keeps_alpha(samples, render) -> None:
    source = _half_transparent()
    path = samples.save(source, "PNG", icc_profile=samples.swapped_rgb_profile())

    image = samples.open_rendered(render(path, SourceFormat.PNG, OutputFormat.PNG))

    assert samples.near(image.getpixel((8, 8)), (*GREEN, 255), 50)
    assert image.getpixel((60, 8))[3] == 0


def test_grey_profile_is_converted_and_stays_grey(samples, render) -> None:
    path = samples.save(
        Image.new("L", (32, 32), 128), "PNG", icc_profile=samples.linear_gray_profile()
    )

    image = samples.open_rendered(render(path, SourceFormat.PNG, OutputFormat.PNG))

    assert image.mode == "L"
    assert samples.near(image.getpixel((16, 16)), 188, 4)


@pytest.mark.parametrize("profile", [b"not a profile at all", None])
def test_srgb_or_unreadable_profiles_leave_pixels_alone(samples, render, profile) -> None:
    icc = profile or ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    path = samples.save(Image.new("RGB", (16, 16), (200, 100, 50)), "PNG", icc_profile=icc)

    image = samples.open_rendered(render(path, SourceFormat.PNG, OutputFormat.PNG))

    assert image.getpixel((8, 8)) == (200, 100, 50)
