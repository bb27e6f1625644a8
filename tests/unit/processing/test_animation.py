"""Animated sources: frames, timing and loop count survive; still formats get frame 1."""

from __future__ import annotations

import pytest
from PIL import Image, ImageSequence

from pixstash.domain.formats import OutputFormat, SourceFormat
from pixstash.domain.variants import BIG_SQUARE, FULL, THUMB, VariantSpec

DURATIONS = [50, 120, 200, 80]
ANIMATED_OUTPUTS = [OutputFormat.GIF, OutputFormat.WEBP, OutputFormat.PNG]


def _frames_and_durations(image: Image.Image) -> tuple[list[Image.Image], list[int]]:
    frames, durations = [], []
    for frame in ImageSequence.Iterator(image):
        frame.load()
        durations.append(round(frame.info["duration"]))
        frames.append(frame.convert("RGBA"))
    return frames, durations


def _square_colour(
    frame: Image.Image, index: int, step: int = 5, canvas: int = 40
) -> tuple[int, ...]:
    """Colour at the centre of the square that ``animation_frames`` moved to frame ``index``."""
    centre = round((index * step + 7) * frame.width / canvas)
    return frame.getpixel((centre, centre))


@pytest.mark.parametrize(
    ("pil_format", "source"), [("GIF", "gif"), ("PNG", "png"), ("WEBP", "webp"), ("AVIF", "avif")]
)
@pytest.mark.parametrize("output", ANIMATED_OUTPUTS)
def test_frames_and_durations_are_kept(
    samples, render, pil_format: str, source: str, output: OutputFormat
) -> None:
    frames = samples.animation_frames((40, 40), count=4)
    path = samples.animation(pil_format, frames, duration=DURATIONS, loop=0)

    for spec in (FULL, THUMB):
        rendered = render(path, SourceFormat(source), output, spec)
        assert rendered.frames == 4
        with samples.open_rendered(rendered) as image:
            assert image.n_frames == 4
            assert image.info.get("loop") == 0
            out_frames, durations = _frames_and_durations(image)
        assert durations == DURATIONS
        for index, frame in enumerate(out_frames):
            expected = frames[index].getpixel((index * 5 + 7, index * 5 + 7))
            assert samples.near(_square_colour(frame, index), expected, 60)


@pytest.mark.parametrize("output", [OutputFormat.JPEG, OutputFormat.AVIF])
def test_still_formats_get_the_first_frame(samples, render, output: OutputFormat) -> None:
    path = samples.animation("GIF", samples.animation_frames(), duration=DURATIONS, loop=0)

    rendered = render(path, SourceFormat.GIF, output, THUMB)

    assert rendered.frames == 1
    with samples.open_rendered(rendered) as image:
        assert getattr(image, "n_frames", 1) == 1
        assert samples.near(_square_colour(image.convert("RGB"), 0), (255, 0, 0), 60)


@pytest.mark.parametrize("output", ANIMATED_OUTPUTS)
@pytest.mark.parametrize("spec", [FULL, BIG_SQUARE], ids=["full", "big"])
def test_transparent_animation_stays_transparent(
    samples, render, output: OutputFormat, spec: VariantSpec
) -> None:
    # With these squares libwebp marks no frame as having alpha: the holes come only
    # from disposal, and the encoder leaves the file's alpha flag unset unless we set it.
    frames = samples.animation_frames((40, 40), count=3, transparent=True, step=10)
    path = samples.animation("GIF", frames, duration=DURATIONS[:3], loop=0, disposal=2)

    rendered = render(path, SourceFormat.GIF, output, spec)

    with samples.open_rendered(rendered) as image:
        assert image.mode in ("RGBA", "P")
        out_frames, _ = _frames_and_durations(image)
    assert len(out_frames) == 3
    for index, frame in enumerate(out_frames):
        assert frame.getpixel((frame.width - 1, 0))[3] == 0, f"frame {index} background"
        assert _square_colour(frame, index, 10)[3] == 255, f"frame {index} square"
        if index:  # the previous frame's square has been cleared, not left behind
            assert _square_colour(frame, index - 1, 10)[3] == 0, f"frame {index} trail"


def test_transparent_animation_on_white_in_jpeg(samples, render) -> None:
    frames = samples.animation_frames((40, 40), count=2, transparent=True)
    path = samples.animation("GIF", frames, duration=[100, 100], loop=0, disposal=2)

    image = samples.open_rendered(render(path, SourceFormat.GIF, OutputFormat.JPEG))

    assert samples.near(image.getpixel((39, 0)), (255, 255, 255), 6)


def test_gif_without_loop_extension_plays_once(samples, render) -> None:
    path = samples.animation("GIF", samples.animation_frames(count=2), duration=[100, 100])
    with Image.open(path) as source:
        assert "loop" not in source.info

    gif = samples.open_rendered(render(path, SourceFormat.GIF, OutputFormat.GIF))
    webp = samples.open_rendered(render(path, SourceFormat.GIF, OutputFormat.WEBP))

    assert "loop" not in gif.info
    assert webp.info["loop"] == 1


def test_loop_count_is_kept(samples, render) -> None:
    path = samples.animation("PNG", samples.animation_frames(count=2), duration=[90, 90], loop=3)

    for output in ANIMATED_OUTPUTS:
        image = samples.open_rendered(render(path, SourceFormat.PNG, output))
        assert image.info["loop"] == 3


def test_tiny_gif_delays_play_at_browser_speed(samples, render) -> None:
    path = samples.animation("GIF", samples.animation_frames(count=2), duration=[0, 10], loop=0)

    image = samples.open_rendered(render(path, SourceFormat.GIF, OutputFormat.WEBP))

    assert _frames_and_durations(image)[1] == [100, 100]


def test_single_frame_webp_is_not_animated(engine, samples) -> None:
    path = samples.save(Image.new("RGB", (20, 20), "red"), "WEBP")

    (rendered,) = engine.render(path, SourceFormat.WEBP, [(FULL, OutputFormat.WEBP)])

    assert rendered.frames == 1
    assert engine.probe(path, max_pixels=1000).frames == 1
