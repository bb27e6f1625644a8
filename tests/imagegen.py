"""Test images, generated in code (nothing binary is committed)."""

from __future__ import annotations

import io

from PIL import Image

GPS_MARKER = "PIXSTASH-GPS-SECRET"


def photo(width: int = 640, height: int = 480, seed: int = 1) -> Image.Image:
    """A photo-like RGB image with gradients and an asymmetric red top-left block."""
    img = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    r, _g, b = img.split()
    noise = Image.effect_noise((width, height), 40 + seed).convert("L")
    img = Image.merge("RGB", (r, noise, b.transpose(Image.Transpose.FLIP_LEFT_RIGHT)))
    block = Image.new("RGB", (width // 4, height // 4), (255, 0, 0))
    img.paste(block, (0, 0))
    return img


def jpeg_bytes(
    width: int = 640,
    height: int = 480,
    *,
    orientation: int | None = None,
    gps: bool = False,
    quality: int = 90,
    seed: int = 1,
) -> bytes:
    img = photo(width, height, seed)
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    if gps:
        exif[0x010E] = GPS_MARKER  # ImageDescription, to find leftovers byte-wise
        gps_ifd = exif.get_ifd(0x8825)
        gps_ifd[1] = "N"
        gps_ifd[2] = (52.0, 31.0, 12.0)
        gps_ifd[3] = "E"
        gps_ifd[4] = (13.0, 24.0, 36.0)
    out = io.BytesIO()
    img.save(out, "JPEG", quality=quality, exif=exif.tobytes() if len(exif) else b"")
    return out.getvalue()


def png_alpha_bytes(width: int = 300, height: int = 200) -> bytes:
    img = Image.new("RGBA", (width, height), (0, 128, 255, 0))
    img.paste(Image.new("RGBA", (width // 2, height // 2), (255, 0, 0, 255)), (0, 0))
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


def gif_bytes(frames: int = 5, size: tuple[int, int] = (120, 80), duration: int = 70) -> bytes:
    images = [
        Image.new("RGB", size, ((i * 50) % 256, 255 - (i * 40) % 256, 90)).convert("P")
        for i in range(frames)
    ]
    out = io.BytesIO()
    images[0].save(out, "GIF", save_all=True, append_images=images[1:], duration=duration, loop=0)
    return out.getvalue()


def webp_bytes(width: int = 400, height: int = 300) -> bytes:
    out = io.BytesIO()
    photo(width, height).save(out, "WEBP", quality=80)
    return out.getvalue()


def encode(img: Image.Image, fmt: str, **params: object) -> bytes:
    out = io.BytesIO()
    img.save(out, fmt, **params)
    return out.getvalue()
