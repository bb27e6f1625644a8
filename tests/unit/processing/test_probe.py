from __future__ import annotations

import time
import zlib

import pytest
from PIL import ExifTags, GifImagePlugin, Image, ImageFile, JpegImagePlugin, PngImagePlugin

from pixstash.domain.formats import SourceFormat
from pixstash.domain.model import Probe
from pixstash.errors import ImageCorrupt, ImageTooLarge, UnsupportedMediaType
from pixstash.processing.engines import make_engine

LIMIT = 50_000_000


@pytest.mark.parametrize(
    ("pil_format", "expected"),
    [
        ("JPEG", SourceFormat.JPEG),
        ("PNG", SourceFormat.PNG),
        ("GIF", SourceFormat.GIF),
        ("WEBP", SourceFormat.WEBP),
        ("AVIF", SourceFormat.AVIF),
        ("BMP", SourceFormat.BMP),
        ("TIFF", SourceFormat.TIFF),
    ],
)
def test_each_format_probes_to_its_format_and_size(
    engine, samples, pil_format: str, expected: SourceFormat
) -> None:
    path = samples.save(samples.quadrant_image((40, 30)), pil_format)

    assert engine.probe(path, max_pixels=LIMIT) == Probe(expected, 40, 30, 1)


@pytest.mark.parametrize(
    ("pil_format", "expected"), [("GIF", "gif"), ("WEBP", "webp"), ("PNG", "png"), ("AVIF", "avif")]
)
def test_animations_count_their_frames(engine, samples, pil_format: str, expected: str) -> None:
    frames = samples.animation_frames((30, 20), count=3)
    path = samples.animation(pil_format, frames, duration=[40, 50, 60], loop=0)

    assert engine.probe(path, max_pixels=LIMIT) == Probe(SourceFormat(expected), 30, 20, 3)


def test_display_size_follows_exif_orientation(engine, samples) -> None:
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    path = samples.save(samples.quadrant_image((40, 30)), "JPEG", exif=exif)

    assert engine.probe(path, max_pixels=LIMIT) == Probe(SourceFormat.JPEG, 30, 40, 1)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"hello, this is plain text and not an image at all\n" * 3,
        b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>' + b" " * 40,
        b"<!DOCTYPE html><html><body><img src=x onerror=alert(1)></body></html>",
        b"PK\x03\x04" + b"\x00" * 60,
    ],
    ids=["empty", "text", "svg", "html", "zip"],
)
def test_non_images_are_unsupported(engine, samples, data: bytes) -> None:
    with pytest.raises(UnsupportedMediaType):
        engine.probe(samples.raw(data), max_pixels=LIMIT)


def test_truncated_jpeg_is_corrupt(engine, samples) -> None:
    photo = Image.effect_noise((256, 256), 64).convert("RGB")
    data = samples.image_bytes(photo, "JPEG", quality=90)

    with pytest.raises(ImageCorrupt) as caught:
        engine.probe(samples.raw(data[: len(data) // 2]), max_pixels=LIMIT)
    assert isinstance(caught.value.__cause__, OSError)
    assert not ImageFile.LOAD_TRUNCATED_IMAGES


def test_truncated_progressive_jpeg_is_corrupt(engine, samples) -> None:
    photo = Image.effect_noise((256, 256), 64).convert("RGB")
    data = samples.image_bytes(photo, "JPEG", quality=90, progressive=True)

    with pytest.raises(ImageCorrupt):
        engine.probe(samples.raw(data[: len(data) - 200]), max_pixels=LIMIT)


def _noise_png(samples) -> bytes:
    return samples.image_bytes(Image.effect_noise((128, 128), 80).convert("RGB"), "PNG")


def test_png_with_bad_header_crc_is_corrupt(engine, samples) -> None:
    data = bytearray(_noise_png(samples))
    data[29] ^= 0xFF  # the IHDR CRC

    with pytest.raises(ImageCorrupt):
        engine.probe(samples.raw(bytes(data)), max_pixels=LIMIT)


def test_png_with_truncated_idat_is_corrupt(engine, samples) -> None:
    data = _noise_png(samples)

    with pytest.raises(ImageCorrupt):
        engine.probe(samples.raw(data[: len(data) // 2]), max_pixels=LIMIT)


def test_png_with_damaged_idat_is_corrupt(engine, samples) -> None:
    data = bytearray(_noise_png(samples))
    start = data.index(b"IDAT") + 4
    data[start + 100 : start + 140] = b"\xff" * 40

    with pytest.raises(ImageCorrupt):
        engine.probe(samples.raw(bytes(data)), max_pixels=LIMIT)


def test_png_without_pixels_is_corrupt(engine, samples) -> None:
    header = b"\x00\x00\x00\x00\x00\x00\x00\x10\x08\x02\x00\x00\x00"  # 0 x 16
    data = b"\x89PNG\r\n\x1a\n" + samples.png_chunk(b"IHDR", header)
    data += samples.png_chunk(b"IDAT", zlib.compress(b"")) + samples.png_chunk(b"IEND", b"")

    with pytest.raises(ImageCorrupt):
        engine.probe(samples.raw(data), max_pixels=LIMIT)


def _forbid_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self: ImageFile.ImageFile) -> None:
        raise AssertionError("pixels were decoded")

    for cls in (ImageFile.ImageFile, PngImagePlugin.PngImageFile, GifImagePlugin.GifImageFile):
        monkeypatch.setattr(cls, "load", refuse)
    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "load_prepare", refuse)


def test_huge_png_is_refused_from_its_header(engine, samples, monkeypatch) -> None:
    path = samples.raw(samples.blank_png(10_000, 10_000))
    assert path.stat().st_size < 50_000
    _forbid_decoding(monkeypatch)

    started = time.perf_counter()
    with pytest.raises(ImageTooLarge) as caught:
        engine.probe(path, max_pixels=LIMIT)

    assert time.perf_counter() - started < 1.0
    assert "100,000,000" in caught.value.message
    assert "50,000,000" in caught.value.message


def test_gif_with_too_many_frames_is_refused(engine, samples, monkeypatch) -> None:
    # 100 x 100 x 5001 frames = 50,010,000 pixels: just over the budget.
    path = samples.raw(samples.many_frame_gif(5001, 100, 100))
    _forbid_decoding(monkeypatch)

    with pytest.raises(ImageTooLarge) as caught:
        engine.probe(path, max_pixels=LIMIT)
    assert "50,010,000" in caught.value.message


def test_animation_beyond_the_frame_cap_is_refused(samples) -> None:
    engine = make_engine("auto", max_frames=10)
    too_many = samples.raw(samples.many_frame_gif(11, 4, 4))

    with pytest.raises(ImageTooLarge, match="11 frames; the limit is 10"):
        engine.probe(too_many, max_pixels=LIMIT)
    assert (
        engine.probe(samples.raw(samples.many_frame_gif(10, 4, 4)), max_pixels=LIMIT).frames == 10
    )


def test_jpeg_claiming_a_huge_size_is_refused(engine, samples, monkeypatch) -> None:
    small = samples.image_bytes(Image.new("RGB", (16, 16), "red"), "JPEG")
    path = samples.raw(samples.with_sof_size(small, 65500, 65500))
    _forbid_decoding(monkeypatch)

    with pytest.raises(ImageTooLarge) as caught:
        engine.probe(path, max_pixels=LIMIT)
    assert f"{65500 * 65500:,}" in caught.value.message


def test_budget_counts_width_height_and_frames(engine, samples) -> None:
    path = samples.raw(samples.many_frame_gif(3, 10, 10))

    assert engine.probe(path, max_pixels=300).frames == 3
    with pytest.raises(ImageTooLarge):
        engine.probe(path, max_pixels=299)


def test_corrupt_exif_warnings_do_not_escape(engine, samples) -> None:
    # An IFD entry pointing past its end: Pillow warns while reading it.
    exif = b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\x00\x03\x01\x12\x00\x03\x00\x00\x00\x01"
    exif += b"\x00\x06\x00\x00\x01\x0e\x00\x02\x00\x00\x00\x40\x00\x00\x10\x00"
    path = samples.save(Image.new("RGB", (16, 8), "red"), "JPEG", exif=exif)
    with pytest.warns(UserWarning, match="EXIF|Tag"), Image.open(path) as plain:  # Pillow warns
        plain.getexif()

    assert engine.probe(path, max_pixels=LIMIT).format is SourceFormat.JPEG


def test_refuses_to_validate_with_truncated_images_allowed(engine, samples, monkeypatch) -> None:
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    path = samples.save(Image.new("RGB", (16, 16)), "JPEG")

    with pytest.raises(RuntimeError):
        engine.probe(path, max_pixels=LIMIT)


@pytest.mark.parametrize(
    "data",
    [
        b"\x89PNG\r\n\x1a\n" + b"garbage!" * 10,
        b"GIF89a" + b"\x00" * 60,
        b"\xff\xd8\xff" + b"x" * 60,
    ],
    ids=["png", "gif", "jpeg"],
)
def test_right_magic_wrong_body_is_corrupt(engine, samples, data: bytes) -> None:
    with pytest.raises(ImageCorrupt):
        engine.probe(samples.raw(data), max_pixels=LIMIT)


def test_a_webp_that_would_need_too_much_memory_is_refused_from_its_header(engine, samples) -> None:
    # 6000x6000 is within the pixel budget, but Pillow's WebP decoder needs ~16 bytes a
    # pixel (576 MB): refused before decoding (found by tests/hostile).
    path = samples.save(Image.new("RGB", (6000, 6000), "green"), "WEBP", quality=10)

    with pytest.raises(ImageTooLarge, match="WebP needs"):
        engine.probe(path, max_pixels=LIMIT)
    small = samples.save(Image.new("RGB", (3000, 3000), "green"), "WEBP", quality=10)
    assert engine.probe(small, max_pixels=LIMIT).width == 3000


def test_an_animation_whose_render_would_need_too_much_memory_is_refused(engine, samples) -> None:
    # Two frames of 4000x4000 are within the pixel budget, but rendering them would
    # peak at ~600 MB (found by tests/hostile); many small frames are fine.
    big = [Image.new("RGB", (4000, 4000), (i * 99, 0, 0)) for i in range(2)]
    path = samples.save(big[0], "GIF", save_all=True, append_images=big[1:])
    with pytest.raises(ImageTooLarge, match="animation of 2 frames"):
        engine.probe(path, max_pixels=LIMIT)
    small = [Image.new("RGB", (200, 200), (i % 256, i // 256, 9)) for i in range(300)]
    path = samples.save(small[0], "GIF", save_all=True, append_images=small[1:])
    assert engine.probe(path, max_pixels=LIMIT).frames == 300
