"""MP4 ("gifv") encoding: frames, timing, size, colour and layout survive a decode with PyAV."""

from __future__ import annotations

import io
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction

import av
import pytest
from PIL import Image

from pixstash.errors import PixstashError
from pixstash.processing import video
from pixstash.processing.video import encode_mp4

RED = (255, 0, 0)
BLUE = (0, 0, 255)
WHITE = (255, 255, 255)
SIZE = (32, 24)
TOLERANCE = 16  # per channel, after 4:2:0 and CRF 23


@dataclass(frozen=True)
class DecodedMp4:
    frames: list[Image.Image]
    starts_ms: list[float]
    durations_ms: list[float]
    stream_duration_ms: float
    codec: str
    pix_fmt: str | None
    profile: str | None


def _decode(data: bytes) -> DecodedMp4:
    with av.open(io.BytesIO(data), "r") as container:
        stream = container.streams.video[0]
        decoded = list(container.decode(stream))
        assert stream.duration is not None
        return DecodedMp4(
            frames=[frame.to_image() for frame in decoded],
            starts_ms=[_ms(frame.pts, stream.time_base) for frame in decoded],
            durations_ms=[_ms(frame.duration, stream.time_base) for frame in decoded],
            stream_duration_ms=_ms(stream.duration, stream.time_base),
            codec=stream.codec_context.name,
            pix_fmt=stream.codec_context.pix_fmt,
            profile=stream.codec_context.profile,
        )


def _ms(ticks: int | None, time_base: Fraction | None) -> float:
    assert ticks is not None
    assert time_base is not None
    return float(ticks * time_base * 1000)


def _top_level_boxes(data: bytes) -> Iterator[bytes]:
    """The types of an MP4's top-level boxes, in file order."""
    offset = 0
    while offset < len(data):
        size, kind = struct.unpack_from(">I4s", data, offset)
        if size == 1:
            (size,) = struct.unpack_from(">Q", data, offset + 8)
        elif size == 0:
            size = len(data) - offset
        yield kind
        offset += size


def _frames(colours: Sequence[tuple[int, ...]], size: tuple[int, int] = SIZE) -> list[Image.Image]:
    return [Image.new("RGB", size, colour) for colour in colours]


def _near(actual: object, expected: Sequence[int], tolerance: int = TOLERANCE) -> bool:
    assert isinstance(actual, tuple)
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True))


@pytest.mark.parametrize("durations", [[40, 40, 40, 40], [40, 100, 40, 500], [1000]])
def test_every_frame_keeps_its_time(durations: list[int]) -> None:
    colours = [RED, BLUE, WHITE, (0, 255, 0)][: len(durations)]
    decoded = _decode(encode_mp4(_frames(colours), durations))

    assert len(decoded.frames) == len(durations)
    starts = [sum(durations[:index]) for index in range(len(durations))]
    tolerance = len(durations)  # 1 ms a frame
    assert all(abs(a - e) <= 1 for a, e in zip(decoded.starts_ms, starts, strict=True))
    assert all(abs(a - e) <= 1 for a, e in zip(decoded.durations_ms, durations, strict=True))
    assert abs(sum(decoded.durations_ms) - sum(durations)) <= tolerance
    assert abs(decoded.stream_duration_ms - sum(durations)) <= tolerance
    for frame, colour in zip(decoded.frames, colours, strict=True):
        assert _near(frame.getpixel((16, 12)), colour)


def test_stream_is_h264_yuv420p_for_browsers() -> None:
    decoded = _decode(encode_mp4(_frames([RED, BLUE]), [100, 100]))

    assert decoded.codec == "h264"
    assert decoded.pix_fmt == "yuv420p"
    assert decoded.profile == "High"


def test_moov_comes_before_mdat() -> None:
    boxes = list(_top_level_boxes(encode_mp4(_frames([RED, BLUE, RED]), [50, 50, 50])))

    assert boxes[0] == b"ftyp"
    assert boxes.index(b"moov") < boxes.index(b"mdat")


@pytest.mark.parametrize(
    ("size", "expected"),
    [((32, 24), (32, 24)), ((121, 81), (122, 82)), ((33, 24), (34, 24)), ((32, 25), (32, 26))],
)
def test_odd_sides_are_padded_by_one_pixel(
    size: tuple[int, int], expected: tuple[int, int]
) -> None:
    decoded = _decode(encode_mp4(_frames([RED], size), [100]))

    assert decoded.frames[0].size == expected


def test_padding_repeats_the_edge_and_keeps_the_picture() -> None:
    width, height = 121, 81
    frame = Image.new("RGB", (width, height), BLUE)
    frame.paste(RED, (0, 0, 60, 40))  # a stretch would move this quadrant's edges

    (decoded,) = _decode(encode_mp4([frame], [100])).frames

    assert _near(decoded.getpixel((50, 30)), RED)
    assert _near(decoded.getpixel((70, 30)), BLUE)
    assert _near(decoded.getpixel((50, 50)), BLUE)
    assert _near(decoded.getpixel((width, height)), BLUE)  # the padded corner, not black


@pytest.mark.parametrize(("mode", "clear"), [("RGBA", (0, 0, 0, 0)), ("LA", (0, 0))])
def test_transparency_becomes_white(mode: str, clear: tuple[int, ...]) -> None:
    frame = Image.new(mode, SIZE, clear)

    (decoded,) = _decode(encode_mp4([frame], [100])).frames

    assert _near(decoded.getpixel((16, 12)), WHITE)


def test_half_transparent_red_is_pink_on_white() -> None:
    frame = Image.new("RGBA", SIZE, (255, 0, 0, 128))

    (decoded,) = _decode(encode_mp4([frame], [100])).frames

    assert _near(decoded.getpixel((16, 12)), (255, 127, 127))


@pytest.mark.parametrize(
    ("mode", "fill", "expected"),
    [("RGB", RED, RED), ("RGBA", (*RED, 255), RED), ("L", 128, (128, 128, 128))],
)
def test_colours_are_roughly_kept(
    mode: str, fill: int | tuple[int, ...], expected: tuple[int, int, int]
) -> None:
    frame = Image.new(mode, SIZE, fill)

    (decoded,) = _decode(encode_mp4([frame], [100])).frames

    assert _near(decoded.getpixel((16, 12)), expected)


def test_frames_past_the_cap_are_dropped() -> None:
    durations = [40, 60, 80, 100, 120]

    decoded = _decode(encode_mp4(_frames([RED, BLUE] * 2 + [RED]), durations, max_frames=3))

    assert len(decoded.frames) == 3
    assert abs(decoded.stream_duration_ms - sum(durations[:3])) <= 3


def test_no_frames_is_an_error() -> None:
    with pytest.raises(ValueError, match="at least one frame"):
        encode_mp4([], [])


@pytest.mark.parametrize(
    ("frames", "durations", "message"),
    [
        (_frames([RED, BLUE]), [100], "2 frames but 1 durations"),
        ([Image.new("RGB", (8, 8)), Image.new("RGB", (10, 8))], [100, 100], "same size"),
        (_frames([RED, BLUE]), [100, 0], "at least 1 ms"),
    ],
)
def test_inconsistent_input_is_an_error(
    frames: list[Image.Image], durations: list[int], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        encode_mp4(frames, durations)


def test_encoder_failure_is_a_pixstash_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(video, "MP4_PRESET", "no-such-preset")

    with pytest.raises(PixstashError, match="MP4 failed") as caught:
        encode_mp4(_frames([RED]), [100])

    assert isinstance(caught.value.__cause__, av.FFmpegError)
