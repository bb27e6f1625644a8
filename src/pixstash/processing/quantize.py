"""Full-colour frames to GIF's 256-colour palettes, with binary transparency."""

from __future__ import annotations

import math
from collections.abc import Sequence

from PIL import Image

from pixstash.processing.colour import has_alpha

TRANSPARENT_INDEX = 255
# Pixels the shared palette is computed from (sampled frames, downscaled).
PALETTE_SAMPLE_PIXELS = 512 * 512
PALETTE_SAMPLE_FRAMES = 8


def to_gif_frames(frames: Sequence[Image.Image], reserve_transparent: bool) -> list[Image.Image]:
    """Palette frames; with ``reserve_transparent`` index 255 marks alpha < 128 in all of them.

    A frame with few enough colours gets an exact palette (a GIF re-encoded stays
    lossless). Others map to one palette shared by the whole animation, so still areas
    stay identical from frame to frame (no shimmer, small deltas). A still image is
    dithered; an animation is not, as error diffusion would spread every change to the
    right and bottom of the frame and defeat the encoder's frame differencing.
    """
    colours = TRANSPARENT_INDEX if reserve_transparent else 256
    dither = Image.Dither.FLOYDSTEINBERG if len(frames) == 1 else Image.Dither.NONE
    shared: Image.Image | None = None
    paletted = []
    for frame in frames:
        rgb = frame if frame.mode == "RGB" else frame.convert("RGB")
        if rgb.getcolors(colours) is not None:
            # Median cut is exact when the colours fit (fast octree is not).
            converted = rgb.quantize(colours, method=Image.Quantize.MEDIANCUT)
        else:
            shared = shared or _shared_palette(frames, colours)
            converted = rgb.quantize(palette=shared, dither=dither)
        paletted.append(_finish(converted, frame, reserve_transparent))
    return paletted


def _shared_palette(frames: Sequence[Image.Image], colours: int) -> Image.Image:
    """A median-cut palette of a montage of evenly spaced, downscaled frames."""
    step = max(1, math.ceil(len(frames) / PALETTE_SAMPLE_FRAMES))
    samples = [frame.convert("RGB") for frame in frames[::step]]
    budget = PALETTE_SAMPLE_PIXELS / len(samples)
    shrunk = [_shrink(sample, budget) for sample in samples]
    montage = Image.new("RGB", (max(s.width for s in shrunk), sum(s.height for s in shrunk)))
    top = 0
    for sample in shrunk:
        montage.paste(sample, (0, top))
        top += sample.height
    # The montage's empty corners are black: black joins the palette, which is harmless.
    return montage.quantize(colours, method=Image.Quantize.MEDIANCUT)


def _shrink(image: Image.Image, pixel_budget: float) -> Image.Image:
    scale = math.sqrt(pixel_budget / (image.width * image.height))
    if scale >= 1:
        return image
    size = (max(1, int(image.width * scale)), max(1, int(image.height * scale)))
    return image.resize(size, Image.Resampling.BOX)


def _finish(paletted: Image.Image, frame: Image.Image, reserve_transparent: bool) -> Image.Image:
    """Pad the palette to 256 entries and punch the transparent holes."""
    palette = (paletted.getpalette() or [])[: TRANSPARENT_INDEX * 3 + 3]
    paletted.putpalette(palette + [0] * (768 - len(palette)))
    if reserve_transparent and has_alpha(frame):
        holes = frame.getchannel("A").point(lambda alpha: 255 if alpha < 128 else 0)
        paletted.paste(TRANSPARENT_INDEX, mask=holes)
    paletted.info = {}
    return paletted
