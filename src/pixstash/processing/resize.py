"""Variant geometry: how small a JPEG may be decoded, and resizing that reuses work."""

from __future__ import annotations

import math
from collections.abc import Sequence

from PIL import Image

from pixstash.domain.variants import VariantSpec

Frames = list[Image.Image]

# Image.resize(reducing_gap=3): a fast integer box reduction first, then LANCZOS over
# the last >= 3x; Pillow documents 3.0 as indistinguishable from a plain LANCZOS.
REDUCING_GAP = 3.0
# A decode at reduced scale, or an already-made rendition, serves a target when it is
# at least this many times the target's size (the gap Image.thumbnail uses for draft).
HEADROOM = 2.0


def decode_size(specs: Sequence[VariantSpec], width: int, height: int) -> tuple[int, int] | None:
    """The smallest decoded size that serves every spec (None: decode at full size).

    ``width`` x ``height`` is the full-resolution display size. A square crop of side S
    needs both sides >= HEADROOM x S, which is what asking for (2S, 2S) guarantees.
    """
    if not specs:
        return None
    need_width = need_height = 0
    for spec in specs:
        if spec.is_full:
            return None
        target_width, target_height = spec.target_size(width, height)
        need_width = max(need_width, math.ceil(target_width * HEADROOM))
        need_height = max(need_height, math.ceil(target_height * HEADROOM))
    return need_width, need_height


def centre_square(width: int, height: int) -> tuple[int, int, int, int]:
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    return left, top, left + side, top + side


class Renditions:
    """Resized frame lists of one decoded source.

    Each whole-picture downscale is kept, and a later, smaller target is made from the
    smallest kept one that is still at least HEADROOM times its size (else from the
    decoded frames), so asking for targets largest first does each reduction once.
    """

    def __init__(self, frames: Frames, width: int, height: int) -> None:
        self._base = frames
        self._width = width
        self._height = height
        self._made: list[Frames] = []

    def get(self, spec: VariantSpec, frame_limit: int) -> Frames:
        """The first ``frame_limit`` frames at ``spec``'s size (crop: centre square)."""
        size = spec.target_size(self._width, self._height)
        source = self._source_for(size, frame_limit)[:frame_limit]
        if spec.crop:
            box = centre_square(*source[0].size)
            return [_resize(frame, size, box) for frame in source]
        if source[0].size == size:
            return source
        frames = [_resize(frame, size, None) for frame in source]
        self._made.append(frames)
        return frames

    def _source_for(self, size: tuple[int, int], frame_limit: int) -> Frames:
        usable = [made for made in self._made if len(made) >= frame_limit]
        for made in usable:
            if made[0].size == size:
                return made
        width, height = size
        roomy = [
            made
            for made in usable
            if made[0].width >= HEADROOM * width and made[0].height >= HEADROOM * height
        ]
        if not roomy:
            return self._base
        return min(roomy, key=lambda made: made[0].width * made[0].height)


def _resize(
    frame: Image.Image, size: tuple[int, int], box: tuple[int, int, int, int] | None
) -> Image.Image:
    if box is not None and box == (0, 0, *frame.size) and frame.size == size:
        return frame
    return frame.resize(size, Image.Resampling.LANCZOS, box=box, reducing_gap=REDUCING_GAP)
