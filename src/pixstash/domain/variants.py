"""Variant specs, following Imgur's suffix convention so existing URLs keep working.

| suffix | name   | box       | crop |
|--------|--------|-----------|------|
| (none) | full   | original  | no   |
| s      | small  | 90x90     | yes  |
| b      | big    | 160x160   | yes  |
| t      | thumb  | 160x160   | no   |
| m      | medium | 320x320   | no   |
| l      | large  | 640x640   | no   |
| h      | huge   | 1024x1024 | no   |
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pixstash.domain.formats import OutputFormat
from pixstash.domain.ids import PUBLIC_ID_ALPHABET, PUBLIC_ID_LENGTH


@dataclass(frozen=True, slots=True)
class VariantSpec:
    name: str
    suffix: str
    box: int | None  # None = original size
    crop: bool
    eager: bool

    @property
    def is_full(self) -> bool:
        return self.box is None

    def target_size(self, width: int, height: int) -> tuple[int, int]:
        """Output size for a source of ``width`` x ``height`` (never upscales)."""
        if self.box is None:
            return width, height
        if self.crop:
            side = min(self.box, width, height)
            return side, side
        scale = min(self.box / width, self.box / height, 1.0)
        return max(1, round(width * scale)), max(1, round(height * scale))


FULL = VariantSpec("full", "", None, crop=False, eager=True)
SMALL_SQUARE = VariantSpec("small", "s", 90, crop=True, eager=False)
BIG_SQUARE = VariantSpec("big", "b", 160, crop=True, eager=False)
THUMB = VariantSpec("thumb", "t", 160, crop=False, eager=True)
MEDIUM = VariantSpec("medium", "m", 320, crop=False, eager=True)
LARGE = VariantSpec("large", "l", 640, crop=False, eager=True)
HUGE = VariantSpec("huge", "h", 1024, crop=False, eager=False)

ALL_VARIANTS: tuple[VariantSpec, ...] = (FULL, SMALL_SQUARE, BIG_SQUARE, THUMB, MEDIUM, LARGE, HUGE)
EAGER_VARIANTS: tuple[VariantSpec, ...] = tuple(v for v in ALL_VARIANTS if v.eager)
BY_SUFFIX: dict[str, VariantSpec] = {v.suffix: v for v in ALL_VARIANTS}
BY_NAME: dict[str, VariantSpec] = {v.name: v for v in ALL_VARIANTS}

_MEDIA_NAME = re.compile(
    rf"^(?P<id>[{PUBLIC_ID_ALPHABET}]{{{PUBLIC_ID_LENGTH}}})(?P<suffix>[sbtmlh]?)\.(?P<ext>[A-Za-z0-9]{{2,5}})$"
)


@dataclass(frozen=True, slots=True)
class MediaName:
    public_id: str
    variant: VariantSpec
    output: OutputFormat


def parse_media_name(name: str) -> MediaName | None:
    """Parse ``abc1234t.jpg`` into (id, variant, format); None if it is not a media name."""
    match = _MEDIA_NAME.match(name)
    if match is None:
        return None
    output = OutputFormat.from_extension(match["ext"])
    variant = BY_SUFFIX[match["suffix"]]
    if output is None or (output.is_video and not variant.is_full):
        return None  # an animation's MP4 exists at full size only
    return MediaName(match["id"], variant, output)


def media_name(public_id: str, variant: VariantSpec, output: OutputFormat) -> str:
    return f"{public_id}{variant.suffix}.{output.extension}"
