"""Test images for the processing engine, all generated in code (no binary fixtures)."""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from pixstash.domain.formats import OutputFormat, SourceFormat
from pixstash.domain.model import Rendered
from pixstash.domain.variants import FULL, VariantSpec
from pixstash.processing.base import ImageEngine
from pixstash.processing.engines import make_engine

RED = (255, 0, 0)
GREEN = (0, 255, 0)
BLUE = (0, 0, 255)

# D50-adapted colorants of sRGB, as found in every sRGB matrix profile.
SRGB_RED_XYZ = (0.4361, 0.2225, 0.0139)
SRGB_GREEN_XYZ = (0.3851, 0.7169, 0.0971)
SRGB_BLUE_XYZ = (0.1431, 0.0606, 0.7141)
D50 = (0.9642, 1.0, 0.8249)


def _image_bytes(image: Image.Image, fmt: str, **params: Any) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **params)
    return out.getvalue()


def _quadrant_image(size: tuple[int, int] = (64, 32)) -> Image.Image:
    """Blue, with a red top-left quadrant: every flip and turn of it is distinguishable."""
    width, height = size
    image = Image.new("RGB", size, BLUE)
    image.paste(RED, (0, 0, width // 2, height // 2))
    return image


def _animation_frames(
    size: tuple[int, int] = (40, 40), count: int = 4, transparent: bool = False, step: int = 5
) -> list[Image.Image]:
    """Frames with a 15-pixel coloured square moving ``step`` pixels down-right per frame,
    on white or on transparent."""
    colours = [RED, GREEN, BLUE, (255, 255, 0), (255, 0, 255), (0, 255, 255)]
    background = (0, 0, 0, 0) if transparent else (255, 255, 255, 255)
    frames = []
    for index in range(count):
        frame = Image.new("RGBA", size, background)
        offset = index * step
        frame.paste(
            (*colours[index % len(colours)], 255), (offset, offset, offset + 15, offset + 15)
        )
        frames.append(frame)
    return frames


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _blank_png(width: int, height: int) -> bytes:
    """A valid 1-bit greyscale PNG of any size, a few KB even at 10000x10000."""
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    row = b"\x00" * (1 + (width + 7) // 8)
    compressor = zlib.compressobj(9)
    body = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", body)
        + _png_chunk(b"IEND", b"")
    )


def _many_frame_gif(frames: int, width: int, height: int) -> bytes:
    """A GIF whose frames are single pixels on a ``width`` x ``height`` canvas."""
    screen = struct.pack("<6sHHBBB", b"GIF89a", width, height, 0x80, 0, 0)
    palette = b"\x00\x00\x00\xff\xff\xff"
    loop = b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00"
    control = b"\x21\xf9\x04\x00\x0a\x00\x00\x00"
    pixel = b"\x2c" + struct.pack("<HHHHB", 0, 0, 1, 1, 0) + b"\x02\x02\x44\x01\x00"
    return screen + palette + loop + (control + pixel) * frames + b"\x3b"


def _with_sof_size(jpeg: bytes, width: int, height: int) -> bytes:
    """``jpeg`` with its SOF0 header claiming another size (the pixels stay small)."""
    at = jpeg.index(b"\xff\xc0")
    return jpeg[: at + 5] + struct.pack(">HH", height, width) + jpeg[at + 9 :]


def _s15(value: float) -> bytes:
    return struct.pack(">i", round(value * 65536))


def _xyz(values: Sequence[float]) -> bytes:
    return b"XYZ \x00\x00\x00\x00" + b"".join(_s15(v) for v in values)


def _curve(gamma: float) -> bytes:
    return b"curv\x00\x00\x00\x00" + struct.pack(">IH", 1, round(gamma * 256)) + b"\x00\x00"


def _description(text: str) -> bytes:
    ascii_text = text.encode() + b"\x00"
    return (
        b"desc\x00\x00\x00\x00"
        + struct.pack(">I", len(ascii_text))
        + ascii_text
        + b"\x00" * (4 + 4 + 2 + 1 + 67)
    )


def _icc_profile(space: bytes, tags: dict[bytes, bytes]) -> bytes:
    """A minimal ICC v2 display profile from tag payloads (each padded to 4 bytes)."""
    table_size = 4 + 12 * len(tags)
    offset = 128 + table_size
    entries, payloads = b"", b""
    for signature, payload in tags.items():
        entries += signature + struct.pack(">II", offset + len(payloads), len(payload))
        payloads += payload + b"\x00" * (-len(payload) % 4)
    size = offset + len(payloads)
    header = (
        struct.pack(">I4sI4s4s4s", size, b"\x00" * 4, 0x02100000, b"mntr", space, b"XYZ ")
        + struct.pack(">6H", 2024, 1, 1, 0, 0, 0)
        + b"acsp"
        + b"\x00" * 24
        + struct.pack(">I", 0)
        + b"".join(_s15(v) for v in D50)
        + b"\x00" * 48
    )
    assert len(header) == 128
    return header + struct.pack(">I", len(tags)) + entries + payloads


def _swapped_rgb_profile() -> bytes:
    """An RGB profile whose red and green primaries are swapped: its red is sRGB green."""
    return _icc_profile(
        b"RGB ",
        {
            b"desc": _description("Swapped primaries"),
            b"wtpt": _xyz(D50),
            b"rXYZ": _xyz(SRGB_GREEN_XYZ),
            b"gXYZ": _xyz(SRGB_RED_XYZ),
            b"bXYZ": _xyz(SRGB_BLUE_XYZ),
            b"rTRC": _curve(2.2),
            b"gTRC": _curve(2.2),
            b"bTRC": _curve(2.2),
        },
    )


def _linear_gray_profile() -> bytes:
    """A grey profile with gamma 1.0: a stored 128 is 50 % light, sRGB ~188."""
    return _icc_profile(
        b"GRAY",
        {b"desc": _description("Linear grey"), b"wtpt": _xyz(D50), b"kTRC": _curve(1.0)},
    )


def _open_rendered(rendered: Rendered) -> Image.Image:
    image = Image.open(io.BytesIO(rendered.data))
    image.load()
    return image


def _near(actual: Sequence[int] | int, expected: Sequence[int] | int, tolerance: int = 40) -> bool:
    if isinstance(actual, int) or isinstance(expected, int):
        assert isinstance(actual, int)
        assert isinstance(expected, int)
        return abs(actual - expected) <= tolerance
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=False))


class Samples:
    """Builds test images and writes them into the test's temporary directory."""

    image_bytes = staticmethod(_image_bytes)
    quadrant_image = staticmethod(_quadrant_image)
    animation_frames = staticmethod(_animation_frames)
    png_chunk = staticmethod(_png_chunk)
    blank_png = staticmethod(_blank_png)
    many_frame_gif = staticmethod(_many_frame_gif)
    with_sof_size = staticmethod(_with_sof_size)
    swapped_rgb_profile = staticmethod(_swapped_rgb_profile)
    linear_gray_profile = staticmethod(_linear_gray_profile)
    open_rendered = staticmethod(_open_rendered)
    near = staticmethod(_near)

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._count = 0

    def raw(self, data: bytes, suffix: str = ".bin") -> Path:
        self._count += 1
        path = self.directory / f"sample{self._count}{suffix}"
        path.write_bytes(data)
        return path

    def save(self, image: Image.Image, fmt: str, **params: Any) -> Path:
        return self.raw(_image_bytes(image, fmt, **params), "." + fmt.lower())

    def animation(self, fmt: str, frames: list[Image.Image], **params: Any) -> Path:
        first, rest = frames[0], frames[1:]
        return self.save(first, fmt, save_all=True, append_images=rest, **params)


@pytest.fixture(params=["pillow", "vips"])
def engine(request: pytest.FixtureRequest) -> ImageEngine:
    """Every engine must pass the same behaviour tests."""
    return make_engine(request.param)


@pytest.fixture
def samples(tmp_path: Path) -> Samples:
    return Samples(tmp_path)


class Renderer:
    """Renders one target at a time, for tests that look at one output."""

    def __init__(self, engine: ImageEngine) -> None:
        self.engine = engine

    def __call__(
        self,
        path: Path,
        source: SourceFormat,
        output: OutputFormat,
        spec: VariantSpec = FULL,
    ) -> Rendered:
        (rendered,) = self.engine.render(path, source, [(spec, output)])
        return rendered


@pytest.fixture
def render(engine: ImageEngine) -> Renderer:
    return Renderer(engine)
