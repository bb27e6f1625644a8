"""Engine choice by name: ``auto`` (the measured best per job), ``vips`` or ``pillow``."""

from __future__ import annotations

from pixstash.processing.base import ImageEngine

ENGINE_NAMES = ("auto", "vips", "pillow")


def make_engine(
    name: str = "auto", *, max_decode_bytes: int | None = None, max_frames: int | None = None
) -> ImageEngine:
    """``max_decode_bytes`` bounds the memory one decode may need (progressive JPEGs);
    ``max_frames`` the frames of an animation."""
    if name not in ENGINE_NAMES:
        raise ValueError(f"unknown image engine {name!r}; valid: {', '.join(ENGINE_NAMES)}")
    from pixstash.processing.pillow_engine import PillowEngine
    from pixstash.processing.probe import DEFAULT_MAX_DECODE_BYTES, DEFAULT_MAX_FRAMES

    pillow = PillowEngine(
        max_decode_bytes or DEFAULT_MAX_DECODE_BYTES, max_frames or DEFAULT_MAX_FRAMES
    )
    if name == "pillow":
        return pillow
    from pixstash.processing.vips_engine import VipsEngine

    return VipsEngine(pillow)
