from __future__ import annotations

from pathlib import Path

import pytest
from PIL import ExifTags, Image

from pixstash.domain.formats import OutputFormat, SourceFormat
from pixstash.domain.variants import FULL, THUMB

RED = (255, 0, 0)
BLUE = (0, 0, 255)
UPRIGHT = (64, 32)

# How to store the upright picture so that applying EXIF orientation N shows it upright
# (the inverse of the transform that orientation N asks a viewer to apply).
STORE_AS = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


def _stored(samples, orientation: int, fmt: str) -> tuple[Path, tuple[int, int]]:
    upright = samples.quadrant_image(UPRIGHT)
    method = STORE_AS[orientation]
    stored = upright if method is None else upright.transpose(method)
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    return samples.save(stored, fmt, exif=exif), stored.size


def _assert_upright(samples, image: Image.Image) -> None:
    rgb = image.convert("RGB")
    width, height = rgb.size
    assert samples.near(rgb.getpixel((width // 4, height // 4)), RED), "top-left is red"
    for corner in ((3 * width // 4, height // 4), (width // 4, 3 * height // 4)):
        assert samples.near(rgb.getpixel(corner), BLUE)
    assert samples.near(rgb.getpixel((3 * width // 4, 3 * height // 4)), BLUE)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_jpeg_orientation_is_applied(engine, samples, render, orientation: int) -> None:
    path, stored_size = _stored(samples, orientation, "JPEG")
    if orientation >= 5:
        assert stored_size == (UPRIGHT[1], UPRIGHT[0])

    probe = engine.probe(path, max_pixels=10_000)
    full = render(path, SourceFormat.JPEG, OutputFormat.PNG)
    thumb = render(path, SourceFormat.JPEG, OutputFormat.JPEG, THUMB)

    assert (probe.width, probe.height) == UPRIGHT
    assert (full.width, full.height) == UPRIGHT
    _assert_upright(samples, samples.open_rendered(full))
    _assert_upright(samples, samples.open_rendered(thumb))
    with samples.open_rendered(full) as image:
        assert ExifTags.Base.Orientation not in image.getexif()


@pytest.mark.parametrize(("fmt", "source"), [("PNG", "png"), ("WEBP", "webp"), ("TIFF", "tiff")])
def test_other_formats_apply_orientation(engine, samples, render, fmt: str, source: str) -> None:
    path, _ = _stored(samples, 6, fmt)

    full = render(path, SourceFormat(source), OutputFormat.PNG, FULL)

    assert (full.width, full.height) == UPRIGHT
    _assert_upright(samples, samples.open_rendered(full))
