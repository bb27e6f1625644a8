"""What the libvips engine does beyond the behaviour every engine shares."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest
from PIL import Image, ImageStat

from pixstash.domain.formats import OutputFormat, SourceFormat
from pixstash.domain.variants import BIG_SQUARE, FULL, LARGE, MEDIUM, SMALL_SQUARE, THUMB
from pixstash.errors import ImageTooLarge
from pixstash.processing.engines import make_engine
from pixstash.processing.vips_engine import VipsEngine, uses_vips

PAYLOAD = b"<script>alert(1)</script>"


@pytest.fixture
def vips() -> VipsEngine:
    engine = make_engine("vips")
    assert isinstance(engine, VipsEngine)
    return engine


def _photo(size: tuple[int, int] = (800, 600)) -> Image.Image:
    image = Image.linear_gradient("L").resize(size).convert("RGB")
    noise = Image.effect_noise(size, 30).convert("L")
    return Image.merge("RGB", (image.getchannel(0), noise, image.getchannel(2)))


def test_full_jpeg_is_the_source_repacked_losslessly(vips, samples) -> None:
    source = samples.image_bytes(_photo(), "JPEG", quality=88)
    comment = b"\xff\xfe" + (len(PAYLOAD) + 2).to_bytes(2, "big") + PAYLOAD
    path = samples.raw(source[:2] + comment + source[2:] + PAYLOAD, ".jpg")

    full, large = vips.render(
        path, SourceFormat.JPEG, [(FULL, OutputFormat.JPEG), (LARGE, OutputFormat.JPEG)]
    )

    assert PAYLOAD not in full.data
    with Image.open(io.BytesIO(source)) as original, samples.open_rendered(full) as image:
        assert image.tobytes() == original.tobytes()
    assert (large.width, large.height) == (640, 480)
    assert PAYLOAD not in large.data


def test_rotated_jpeg_is_re_encoded_upright_near_its_quality(vips, samples) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6
    path = samples.save(_photo((400, 200)), "JPEG", quality=80, exif=exif.tobytes())

    (full,) = vips.render(path, SourceFormat.JPEG, [(FULL, OutputFormat.JPEG)])

    assert (full.width, full.height) == (200, 400)
    with samples.open_rendered(full) as image:
        assert image.size == (200, 400)
        assert not image.getexif()
        assert image.info.get("progressive") == 1


def test_smaller_variants_come_from_larger_renditions(vips, samples, monkeypatch) -> None:
    """One decode of the file serves every target of a job."""
    import pyvips

    decodes: list[str] = []
    original = pyvips.Image.thumbnail

    def counting(filename: str, *args: object, **kwargs: object) -> pyvips.Image:
        decodes.append(filename)
        return original(filename, *args, **kwargs)

    monkeypatch.setattr(pyvips.Image, "thumbnail", counting)
    exif = Image.Exif()
    exif[0x0112] = 3  # rotated: the full variant must be decoded
    path = samples.save(_photo((1600, 1200)), "JPEG", exif=exif.tobytes())
    targets = [(spec, OutputFormat.JPEG) for spec in (FULL, THUMB, MEDIUM, LARGE, SMALL_SQUARE)]

    rendered = vips.render(path, SourceFormat.JPEG, targets)

    assert len(decodes) == 1
    assert [(r.width, r.height) for r in rendered] == [
        (1600, 1200),
        (160, 120),
        (320, 240),
        (640, 480),
        (90, 90),
    ]


def test_square_crops_follow_the_subject(vips, samples) -> None:
    """Smart crop: a detailed, saturated subject at the side wins over a flat centre."""
    image = Image.new("RGB", (600, 200), (128, 128, 128))
    subject = Image.effect_noise((150, 150), 90).convert("RGB")
    subject = Image.merge(
        "RGB", (subject.getchannel(0), Image.new("L", (150, 150), 0), subject.getchannel(2))
    )
    image.paste(subject, (430, 25))
    path = samples.save(image, "PNG")

    for spec in (SMALL_SQUARE, BIG_SQUARE):
        (rendered,) = vips.render(path, SourceFormat.PNG, [(spec, OutputFormat.PNG)])
        crop = samples.open_rendered(rendered).convert("RGB")
        assert crop.size == (spec.box, spec.box)
        _red, green, _blue = ImageStat.Stat(crop).mean
        assert green < 90  # half of it or more is the (green-free) subject; the centre is grey


def test_animations_and_palettes_go_to_pillow(samples) -> None:
    frames = samples.animation_frames()
    animated = samples.animation("PNG", frames, duration=50)
    palette = samples.save(Image.new("RGB", (20, 20), (255, 0, 0)).convert("P"), "PNG")
    still = samples.save(frames[0], "PNG")

    assert not uses_vips(animated, SourceFormat.PNG)
    assert not uses_vips(palette, SourceFormat.PNG)
    assert uses_vips(still, SourceFormat.PNG)
    assert not uses_vips(samples.save(frames[0].convert("RGB"), "BMP"), SourceFormat.BMP)


def test_untrusted_loaders_are_blocked() -> None:
    import pyvips

    svg = b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"></svg>'
    with pytest.raises(pyvips.Error):
        pyvips.Image.new_from_buffer(svg, "")


def test_progressive_jpeg_beyond_the_decode_budget_is_refused(samples) -> None:
    """The coefficient buffer is what a progressive decode costs, whatever the scale."""
    path = samples.save(_photo((1000, 1000)), "JPEG", progressive=True)  # ~2.9 MB at 4:2:0
    baseline = samples.save(_photo((1000, 1000)), "JPEG")

    engine = make_engine("vips", max_decode_bytes=2 * 1024 * 1024)
    with pytest.raises(ImageTooLarge, match="progressive"):
        engine.probe(path, max_pixels=10_000_000)
    assert engine.probe(baseline, max_pixels=10_000_000).width == 1000
    assert make_engine("vips").probe(path, max_pixels=10_000_000).width == 1000


@pytest.mark.parametrize("orientation", [1, 3, 6, 8])
def test_reduced_scale_jpeg_decode_is_upright(vips, samples, monkeypatch, orientation) -> None:
    """Targets far below the source decode at 1/2-1/8 scale, then turn upright."""
    import pyvips

    shrinks: list[int] = []
    original = pyvips.Image.jpegload

    def spying(filename: str, **kwargs: object) -> pyvips.Image:
        shrinks.append(int(kwargs.get("shrink", 1)))  # type: ignore[call-overload]
        return original(filename, **kwargs)

    monkeypatch.setattr(pyvips.Image, "jpegload", spying)
    stored = samples.quadrant_image((2000, 1000))  # red top-left quadrant on blue
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = samples.save(stored, "JPEG", exif=exif.tobytes())
    upright = samples.open_rendered(
        make_engine("pillow").render(path, SourceFormat.JPEG, [(LARGE, OutputFormat.PNG)])[0]
    ).convert("RGB")

    (rendered,) = vips.render(path, SourceFormat.JPEG, [(LARGE, OutputFormat.PNG)])
    image = samples.open_rendered(rendered).convert("RGB")

    assert shrinks
    assert shrinks[0] >= 2
    assert image.size == upright.size
    width, height = image.size
    for point in ((width // 8, height // 8), (width * 7 // 8, height * 7 // 8)):
        assert samples.near(image.getpixel(point), upright.getpixel(point), 30)


def test_reduced_scale_decode_keeps_colour_management(vips, samples) -> None:
    cmyk = samples.save(Image.new("CMYK", (2000, 1000), (0, 255, 255, 0)), "JPEG")
    tagged = samples.save(
        Image.new("RGB", (2000, 1000), (255, 0, 0)),
        "JPEG",
        icc_profile=samples.swapped_rgb_profile(),
    )

    (from_cmyk,) = vips.render(cmyk, SourceFormat.JPEG, [(THUMB, OutputFormat.PNG)])
    (from_tagged,) = vips.render(tagged, SourceFormat.JPEG, [(THUMB, OutputFormat.PNG)])

    assert samples.near(samples.open_rendered(from_cmyk).getpixel((80, 40)), (255, 0, 0), 50)
    assert samples.near(samples.open_rendered(from_tagged).getpixel((80, 40)), (0, 255, 0), 50)


def test_loaders_outside_the_allow_list_are_blocked(samples) -> None:
    """GIF is a trusted libvips format (GIFs go to Pillow): only pixstash's allow-list
    blocks it. A fresh interpreter without pixstash loads the same bytes."""
    import pyvips

    gif = samples.image_bytes(Image.new("P", (4, 4)), "GIF")
    plain = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, pyvips; "
            "print(pyvips.Image.new_from_buffer(sys.stdin.buffer.read(), '').width)",
        ],
        input=gif,
        capture_output=True,
        check=True,
    )
    assert plain.stdout.strip() == b"4"

    with pytest.raises(pyvips.Error):
        pyvips.Image.new_from_buffer(gif, "")


def test_disagreeing_exif_blocks_mean_no_lossless_copy(vips, samples) -> None:
    """Decoders differ on which EXIF block counts; the full size is then re-encoded
    upright, at the size libvips (and the upload's probe) reported."""
    rotated, upright = Image.Exif(), Image.Exif()
    rotated[0x0112], upright[0x0112] = 6, 1
    data = samples.image_bytes(_photo((80, 40)), "JPEG", exif=rotated.tobytes())
    second = b"Exif\x00\x00" + upright.tobytes()
    app1 = b"\xff\xe1" + (len(second) + 2).to_bytes(2, "big") + second
    at = data.index(b"\xff\xdb")  # before the first quantisation table
    path = samples.raw(data[:at] + app1 + data[at:], ".jpg")

    (full,) = vips.render(path, SourceFormat.JPEG, [(FULL, OutputFormat.JPEG)])

    with samples.open_rendered(full) as image:
        assert image.size == (full.width, full.height)
        assert not image.getexif()


def test_rgb_jpeg_without_adobe_marker_keeps_its_colours(vips, samples) -> None:
    data = samples.image_bytes(Image.new("RGB", (32, 32), (250, 10, 10)), "JPEG", keep_rgb=True)
    start = data.find(b"\xff\xee")
    if start >= 0:  # drop the Adobe marker: only the component names say RGB
        length = int.from_bytes(data[start + 2 : start + 4], "big")
        data = data[:start] + data[start + 2 + length :]
    path = samples.raw(data, ".jpg")
    with Image.open(path) as source:
        assert samples.near(source.convert("RGB").getpixel((16, 16)), (250, 10, 10), 20)

    (full,) = vips.render(path, SourceFormat.JPEG, [(FULL, OutputFormat.JPEG)])

    pixel = samples.open_rendered(full).convert("RGB").getpixel((16, 16))
    assert samples.near(pixel, (250, 10, 10), 20)
