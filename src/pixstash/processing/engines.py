"""Engine choice by name: ``auto`` (the measured best per job), ``vips`` or ``pillow``."""

from __future__ import annotations

from pixstash.processing.base import ImageEngine

ENGINE_NAMES = ("auto", "vips", "pillow")


def make_engine(name: str = "auto", *, max_decode_bytes: int | None = None) -> ImageEngine:
    """``max_decode_bytes`` bounds the memory one decode may need (progressive JPEGs)."""
    if name not in ENGINE_NAMES:
        raise ValueError(f"unknown image engine {name!r}; valid: {', '.join(ENGINE_NAMES)}")
    from pixstash.processing.pillow_engine import PillowEngine
    from pixstash.processing.probe import DEFAULT_MAX_DECODE_BYTES

    pillow = PillowEngine(max_decode_bytes or DEFAULT_MAX_DECODE_BYTES)
    if name == "pillow":
        return pillow
    from pixstash.processing.vips_engine import VipsEngine

    return VipsEngine(pillow)
