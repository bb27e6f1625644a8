"""A deterministic, photo-like JPEG of a chosen size (smooth shapes plus sensor noise)."""

from __future__ import annotations

import io
import random

from PIL import Image, ImageChops, ImageDraw, ImageFilter


def photo_like(
    width: int = 900, height: int = 700, *, noise: float = 12.0, seed: int = 7
) -> Image.Image:
    rnd = random.Random(seed)
    ramp = Image.linear_gradient("L")
    img = Image.merge(
        "RGB",
        (
            ramp.resize((width, height)),
            ramp.rotate(90).resize((width, height)),
            Image.new("L", (width, height), 90),
        ),
    )
    draw = ImageDraw.Draw(img)
    for _ in range(60):
        x, y, r = rnd.randrange(width), rnd.randrange(height), rnd.randrange(10, 160)
        colour = (rnd.randrange(256), rnd.randrange(256), rnd.randrange(256))
        draw.ellipse((x - r, y - r, x + r, y + r), fill=colour)
    img = img.filter(ImageFilter.GaussianBlur(6))
    grain = Image.merge("RGB", [Image.effect_noise((width, height), noise) for _ in range(3)])
    return ImageChops.add(img, grain, scale=1.0, offset=-128)


def jpeg_near(target_bytes: int = 200 * 1024) -> bytes:
    """The photo-like image as a JPEG, quality searched so its size is close to the target."""
    img = photo_like()
    low, high = 30, 97
    best = b""
    while low <= high:
        quality = (low + high) // 2
        out = io.BytesIO()
        img.save(out, "JPEG", quality=quality)
        data = out.getvalue()
        if not best or abs(len(data) - target_bytes) < abs(len(best) - target_bytes):
            best = data
        if len(data) < target_bytes:
            low = quality + 1
        else:
            high = quality - 1
    return best
