"""``ImageEngine`` on Pillow: validate uploads, render variants from one decode."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

from PIL import Image

from pixstash.domain.formats import OutputFormat, SourceFormat
from pixstash.domain.model import Placeholder, Probe, Rendered
from pixstash.domain.variants import VariantSpec
from pixstash.errors import PixstashError
from pixstash.processing import gif
from pixstash.processing.decode import Decoded, decode
from pixstash.processing.encode import EncodeOptions, encode
from pixstash.processing.guard import decoding, quiet_pillow
from pixstash.processing.memory import release_free_memory
from pixstash.processing.payload import carries_payload
from pixstash.processing.placeholder import describe
from pixstash.processing.probe import DEFAULT_MAX_DECODE_BYTES, DEFAULT_MAX_FRAMES, probe_image
from pixstash.processing.resize import Frames, Renditions
from pixstash.processing.video import encode_mp4

LOSSLESS_SOURCES = frozenset(
    {SourceFormat.PNG, SourceFormat.GIF, SourceFormat.BMP, SourceFormat.TIFF}
)
_PALETTE_OUTPUTS = frozenset({OutputFormat.PNG, OutputFormat.GIF})

Target = tuple[VariantSpec, OutputFormat]


class PillowEngine:
    """Synchronous and CPU-bound: run it in a worker thread, never on the event loop."""

    def __init__(
        self,
        max_decode_bytes: int = DEFAULT_MAX_DECODE_BYTES,
        max_frames: int = DEFAULT_MAX_FRAMES,
    ) -> None:
        self.max_decode_bytes = max_decode_bytes
        self.max_frames = max_frames

    def probe(self, path: Path, *, max_pixels: int) -> Probe:
        try:
            return probe_image(path, max_pixels, self.max_decode_bytes, self.max_frames)
        finally:
            release_free_memory()  # a validating decode can hold hundreds of MB

    def describe(self, data: bytes) -> Placeholder:
        with decoding(), Image.open(io.BytesIO(data)) as image:
            image.seek(0)
            return describe(image.convert("RGBA"))

    def render(
        self,
        source: Path,
        source_format: SourceFormat,
        targets: Sequence[Target],
    ) -> list[Rendered]:
        if not targets:
            return []
        try:
            return self._render_all(source, source_format, targets)
        finally:
            release_free_memory()  # decoded frames: up to hundreds of MB, now freed

    def _render_all(
        self, source: Path, source_format: SourceFormat, targets: Sequence[Target]
    ) -> list[Rendered]:
        rendered: dict[int, Rendered] = {}
        if source_format is SourceFormat.GIF:
            rendered = _repacked_gifs(source, targets)
        rest = [i for i in range(len(targets)) if i not in rendered]
        if rest:
            made = self._render([targets[i] for i in rest], source, source_format)
            rendered.update(zip(rest, made, strict=True))
        return [rendered[index] for index in range(len(targets))]

    def _render(
        self, targets: Sequence[Target], source: Path, source_format: SourceFormat
    ) -> list[Rendered]:
        animated = any(fmt.supports_animation for _, fmt in targets)
        decoded = decode(source, source_format, [spec for spec, _ in targets], all_frames=animated)
        renditions = Renditions(decoded.frames, decoded.width, decoded.height)
        rendered: dict[int, Rendered] = {}
        # Same frames, format and options: encode once ("large" of a small image is "full").
        # Each entry holds its frames, so their ids cannot be reused by other images.
        encoded: dict[tuple[object, ...], tuple[Frames, Rendered]] = {}
        # Largest first, so smaller targets can be made from larger renditions.
        for index in sorted(range(len(targets)), key=lambda i: -_area(targets[i], decoded)):
            spec, fmt = targets[index]
            full = _is_full_size(spec, decoded)
            frames = _frames_for(decoded, renditions, spec, fmt, full)
            options = _options(decoded, source_format, full, len(frames))
            key = (fmt, options, *map(id, frames))
            if key not in encoded:
                encoded[key] = frames, _encode(frames, fmt, options)
            rendered[index] = encoded[key][1]
        return [rendered[index] for index in range(len(targets))]


def _repacked_gifs(source: Path, targets: Sequence[Target]) -> dict[int, Rendered]:
    """Full-size GIF targets of a GIF source, re-packed losslessly (no decode at all)."""
    wanted = [i for i, (spec, fmt) in enumerate(targets) if fmt is OutputFormat.GIF]
    if not wanted:
        return {}
    try:
        packed = gif.repack(source.read_bytes())
    except gif.NotGif:
        return {}  # re-encode instead
    if carries_payload(packed.data):
        return {}
    size = (packed.width, packed.height)
    result = Rendered(packed.data, packed.width, packed.height, packed.frames)
    return {i: result for i in wanted if targets[i][0].target_size(*size) == size}


def _area(target: Target, decoded: Decoded) -> int:
    width, height = target[0].target_size(decoded.width, decoded.height)
    return width * height


def _is_full_size(spec: VariantSpec, decoded: Decoded) -> bool:
    """The full variant, or one whose box does not make the image any smaller."""
    size = spec.target_size(decoded.width, decoded.height)
    return spec.is_full or size == (decoded.width, decoded.height)


def _frames_for(
    decoded: Decoded, renditions: Renditions, spec: VariantSpec, fmt: OutputFormat, full: bool
) -> Frames:
    animated = fmt.supports_animation and len(decoded.frames) > 1
    if full and decoded.palette is not None and fmt in _PALETTE_OUTPUTS:
        return [decoded.palette]
    return renditions.get(spec, len(decoded.frames) if animated else 1)


def _options(
    decoded: Decoded, source_format: SourceFormat, full: bool, frame_count: int
) -> EncodeOptions:
    return EncodeOptions(
        full=full,
        lossless_source=source_format in LOSSLESS_SOURCES,
        jpeg_tables=decoded.jpeg_tables,
        durations=tuple(decoded.durations[:frame_count]),
        loop=decoded.loop,
    )


def _encode(frames: Frames, fmt: OutputFormat, options: EncodeOptions) -> Rendered:
    if fmt.is_video:
        try:  # every frame the upload's frame limit admitted
            data = encode_mp4(frames, options.durations, max_frames=len(frames))
        except ValueError as exc:
            raise PixstashError("Could not encode the animation as MP4.") from exc
        width, height = frames[0].size
        return Rendered(data, width, height, len(frames))
    try:
        with quiet_pillow():
            data = encode(frames, fmt, options)
            count = _frames_written(data) if len(frames) > 1 else 1
    except (OSError, ValueError) as exc:
        raise PixstashError(f"Could not encode a {fmt.value} variant.") from exc
    width, height = frames[0].size
    return Rendered(data, width, height, count)


def _frames_written(data: bytes) -> int:
    """Frames in an encoded animation (GIF merges identical neighbours, summing time)."""
    with Image.open(io.BytesIO(data)) as written:
        return int(getattr(written, "n_frames", 1))
