"""The image-pipeline corpus: six deterministic sources, generated with a fixed seed.

Nothing binary is committed: ``ensure_corpus`` writes the files once into
``<out>/corpus-v<VERSION>/`` (git-ignored) and reuses them while ``VERSION`` stays the
same; change ``VERSION`` whenever the generator changes. The photos are "photo-like" on
purpose (smooth multi-scale fields, hard-edged shapes, textured regions, mild grain, a
lens-like softness) so they compress like photos: neither pure noise nor flat colour.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw, ImageFilter, ImageFont

VERSION = 1
SEED = 20261124
JPEG_QUALITY = 92

F32 = NDArray[np.float32]


@dataclass(frozen=True)
class Source:
    key: str  # short label used in the report
    name: str  # file name inside the corpus dir
    format: str  # pixstash SourceFormat value
    description: str


SOURCES: tuple[Source, ...] = (
    Source("12mp", "photo-12mp.jpg", "jpeg", "12 MP photo JPEG 4000x3000, EXIF + GPS"),
    Source("24mp", "photo-24mp.jpg", "jpeg", "24 MP photo JPEG 6000x4000"),
    Source("50mp", "photo-50mp.jpg", "jpeg", "50 MP baseline JPEG 8640x5760"),
    Source("50mp-prog", "photo-50mp-progressive.jpg", "jpeg", "the same 50 MP, progressive"),
    Source("png-4k", "screenshot-4k.png", "png", "4K PNG screenshot with alpha 3840x2160"),
    Source("gif-200f", "animation-200f.gif", "gif", "animated GIF 480x270, 200 frames"),
)


@dataclass(frozen=True)
class CorpusFile:
    source: Source
    path: Path
    width: int
    height: int
    frames: int
    size: int  # bytes
    sha256: str


def ensure_corpus(out: Path) -> list[CorpusFile]:
    """The corpus under ``out``: reused when present and complete, else generated."""
    root = out / f"corpus-v{VERSION}"
    manifest = root / "manifest.json"
    if manifest.exists():
        try:
            return _load(root, json.loads(manifest.read_text()))
        except (OSError, ValueError, KeyError):
            pass
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".corpus-", dir=out))
    try:
        entries = {src.key: _write(src, tmp) for src in SOURCES}
        _PHOTOS.clear()
        (tmp / "manifest.json").write_text(json.dumps(entries, indent=1))
        shutil.rmtree(root, ignore_errors=True)
        os.replace(tmp, root)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return _load(root, json.loads(manifest.read_text()))


def _load(root: Path, entries: dict[str, dict[str, object]]) -> list[CorpusFile]:
    files = []
    for src in SOURCES:
        entry = entries[src.key]
        path = root / src.name
        if path.stat().st_size != entry["size"]:
            raise ValueError(f"{path} changed")
        files.append(
            CorpusFile(
                src,
                path,
                int(str(entry["width"])),
                int(str(entry["height"])),
                int(str(entry["frames"])),
                int(str(entry["size"])),
                str(entry["sha256"]),
            )
        )
    return files


def _write(src: Source, directory: Path) -> dict[str, object]:
    path = directory / src.name
    writer = _WRITERS[src.key]
    width, height, frames = writer(path)
    data = path.read_bytes()
    return {
        "width": width,
        "height": height,
        "frames": frames,
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }


# --- photos ---------------------------------------------------------------------------


def _upsample(cells: F32, size: tuple[int, int]) -> F32:
    """A small random grid stretched smoothly (bicubic) to ``size`` = (width, height)."""
    img = Image.fromarray(cells.astype(np.float32))
    return np.array(img.resize(size, Image.Resampling.BICUBIC), dtype=np.float32)


def _fractal(rng: np.random.Generator, size: tuple[int, int], octaves: int, first: int) -> F32:
    """Multi-scale smooth noise, amplitude ~ 1/frequency (like natural scenes), ~unit range."""
    width, height = size
    total = np.zeros((height, width), dtype=np.float32)
    cells = first
    for octave in range(octaves):
        grid = rng.standard_normal((max(2, cells * height // width), cells), dtype=np.float32)
        total += _upsample(grid, size) / (1.6**octave)
        cells *= 2
    return total / 2.0


def photo(width: int, height: int, seed: int) -> Image.Image:
    """A photo-like RGB image: sky and ground, soft light, objects with hard edges, foliage
    texture, built at half resolution then upscaled (lens softness) with sensor grain."""
    rng = np.random.default_rng(seed)
    size = (width // 2, height // 2)
    w, h = size
    yy = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None]
    horizon = 0.45 + 0.08 * _upsample(rng.standard_normal((2, 6), dtype=np.float32), (w, 1))[0]
    hard = Image.fromarray(((yy > horizon[None, :]) * 255).astype(np.uint8))
    ground = np.asarray(hard.filter(ImageFilter.GaussianBlur(2)), dtype=np.float32) / 255
    light = _fractal(rng, size, 7, 3)
    tint_a = _fractal(rng, size, 3, 2)
    tint_b = _fractal(rng, size, 3, 2)
    sky = np.stack(
        [110 + 60 * yy + 10 * tint_a, 150 + 40 * yy + 8 * tint_b, 215 - 20 * yy + 0 * tint_a],
        axis=-1,
    )
    land = np.stack(
        [95 + 25 * tint_a, 110 + 30 * tint_b, 60 + 15 * tint_a],
        axis=-1,
    )
    rgb = sky * (1 - ground[..., None]) + land * ground[..., None]
    rgb *= (1.0 + 0.35 * light)[..., None]
    # foliage: fine texture where a smooth mask is high, stronger on the ground
    mask = np.clip(_fractal(rng, size, 3, 3) * 2.0 + ground - 0.6, 0.0, 1.0)
    fine = _upsample(rng.standard_normal((h // 3, w // 3), dtype=np.float32), size)
    fine += 0.6 * rng.standard_normal((h, w), dtype=np.float32)
    rgb += (fine * mask * 22.0)[..., None] * np.array([0.8, 1.0, 0.6], dtype=np.float32)
    base = Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8))
    _objects(base, rng, light)
    # surface texture everywhere (nothing in a photo is perfectly flat)
    texture = _upsample(rng.standard_normal((h // 5, w // 5), dtype=np.float32), size) * 6.0
    textured = np.asarray(base, dtype=np.float32) + texture[..., None]
    base = Image.fromarray(np.clip(textured, 0, 255).astype(np.uint8))
    full = base.resize((width, height), Image.Resampling.BICUBIC)
    pixels = np.asarray(full, dtype=np.int16)
    grain = rng.standard_normal((height, width), dtype=np.float32) * 2.2
    noisy = pixels + grain.astype(np.int16)[..., None]
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))


def _objects(img: Image.Image, rng: np.random.Generator, light: F32) -> None:
    """Hard-edged shapes (buildings, poles, stones, windows) shaded by the light field."""
    w, h = img.size
    layer = Image.new("RGB", (w, h))
    mask = Image.new("L", (w, h), 0)
    dl, dm = ImageDraw.Draw(layer), ImageDraw.Draw(mask)
    for _ in range(110):
        colour = tuple(int(c) for c in rng.integers(30, 230, 3))
        kind = int(rng.integers(0, 3))
        x, y = int(rng.integers(0, w)), int(rng.integers(h // 4, h))
        s = int(rng.integers(w // 90, w // 14))
        if kind == 0:  # building with windows
            box = (x, y - 2 * s, x + s, y + s)
            dl.rectangle(box, fill=colour)
            dm.rectangle(box, fill=255)
            win = tuple(max(0, c - 70) for c in colour)
            step = max(4, s // 6)
            for wx in range(x + step // 2, x + s - step // 2, step):
                for wy in range(y - 2 * s + step // 2, y + s - step, step):
                    dl.rectangle((wx, wy, wx + step // 2, wy + step // 2), fill=win)
        elif kind == 1:  # stone / bush
            box = (x - s, y - s // 2, x + s, y + s // 2)
            dl.ellipse(box, fill=colour)
            dm.ellipse(box, fill=255)
        else:  # pole or wire
            x2, y2 = x + int(rng.integers(-s, s)), y - 3 * s
            dl.line((x, y, x2, y2), fill=colour, width=max(2, s // 12))
            dm.line((x, y, x2, y2), fill=255, width=max(2, s // 12))
    shade = np.clip(0.75 + 0.3 * light, 0.3, 1.4)[..., None]
    shaded = np.clip(np.asarray(layer, dtype=np.float32) * shade, 0, 255).astype(np.uint8)
    soft = mask.filter(ImageFilter.GaussianBlur(0.6))
    img.paste(Image.fromarray(shaded), (0, 0), soft)


def _exif(gps: bool) -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "PixstashBench"  # Make
    exif[0x0110] = "Synthetic 1"  # Model
    exif[0x0112] = 1  # Orientation: upright (a camera held level)
    exif[0x0132] = "2026:11:24 10:00:00"  # DateTime
    exif[0x0131] = "bench/corpus.py"  # Software
    if gps:
        exif[0x8825] = {
            0: b"\x02\x03\x00\x00",  # GPSVersionID
            1: "N",
            2: (48.0, 51.0, 29.88),
            3: "E",
            4: (2.0, 17.0, 40.2),
            5: b"\x00",
            6: 35.0,
        }
    return exif.tobytes()


def _jpeg_writer(
    width: int, height: int, seed: int, *, progressive: bool = False, gps: bool = False
) -> Callable[[Path], tuple[int, int, int]]:
    def write(path: Path) -> tuple[int, int, int]:
        img = _photo_cached(width, height, seed)
        img.save(
            path,
            "JPEG",
            quality=JPEG_QUALITY,
            exif=_exif(gps),
            progressive=progressive,
        )
        return width, height, 1

    return write


_PHOTOS: dict[tuple[int, int, int], Image.Image] = {}


def _photo_cached(width: int, height: int, seed: int) -> Image.Image:
    """The two 50 MP files share their pixels: make them once (per generation run)."""
    key = (width, height, seed)
    if key not in _PHOTOS:
        _PHOTOS.clear()
        _PHOTOS[key] = photo(width, height, seed)
    return _PHOTOS[key]


# --- screenshot -------------------------------------------------------------------------

_WORDS = (
    *("image", "upload", "share", "album", "settings", "profile", "gallery", "private"),
    *("public", "delete", "rename", "download", "copy", "link", "embed", "markdown"),
    *("thumbnail", "medium", "large", "original", "views", "today"),
)


def screenshot(width: int = 3840, height: int = 2160, seed: int = SEED + 4) -> Image.Image:
    """A UI screenshot: flat panels, text, icons, gradients and a translucent overlay."""
    rng = np.random.default_rng(seed)
    img = Image.new("RGBA", (width, height), (246, 247, 249, 255))
    draw = ImageDraw.Draw(img)
    font = ImageFont.load_default(size=26)
    small = ImageFont.load_default(size=20)
    # title bar with a gradient
    bar = np.linspace(0, 1, width, dtype=np.float32)[None, :].repeat(96, axis=0)
    bar_rgb = np.stack([40 + 40 * bar, 60 + 30 * bar, 120 + 60 * bar, 255 + 0 * bar], axis=-1)
    img.paste(Image.fromarray(bar_rgb.astype(np.uint8)), (0, 0))
    draw.text((40, 30), "pixstash - gallery", font=font, fill=(255, 255, 255, 255))
    # side bar
    draw.rectangle((0, 96, 520, height), fill=(232, 235, 240, 255))
    for i in range(24):
        y = 140 + i * 76
        draw.rounded_rectangle((30, y, 490, y + 56), 10, fill=(222, 226, 233, 255))
        draw.ellipse((46, y + 12, 78, y + 44), fill=(90, 120, 200, 255))
        draw.text((96, y + 14), " ".join(_pick_words(rng, 2)), font=small, fill=(30, 30, 40, 255))
    # cards: thumbnail (gradient + blobs), caption text
    for row in range(4):
        for col in range(6):
            x0, y0 = 580 + col * 540, 150 + row * 480
            draw.rounded_rectangle(
                (x0, y0, x0 + 500, y0 + 440), 14, fill=(255, 255, 255, 255), outline=(210,) * 3
            )
            img.paste(_thumb(rng, 468, 300), (x0 + 16, y0 + 16))
            for line in range(3):
                text = " ".join(_pick_words(rng, int(rng.integers(3, 6))))
                draw.text((x0 + 20, y0 + 330 + line * 32), text, font=small, fill=(50, 52, 60, 255))
    # translucent modal overlay and a shadowed dialog; fully transparent corner
    overlay = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    od = ImageDraw.Draw(overlay)
    od.rectangle((1800, 500, 3400, 1700), fill=(20, 24, 32, 120))
    od.rounded_rectangle((2000, 650, 3200, 1550), 24, fill=(255, 255, 255, 235))
    od.text((2060, 700), "Share this image", font=font, fill=(20, 20, 20, 255))
    for line in range(8):
        od.text(
            (2060, 780 + line * 40),
            " ".join(_pick_words(rng, 6)),
            font=small,
            fill=(60, 60, 70, 255),
        )
    img = Image.alpha_composite(img, overlay)
    alpha = np.asarray(img.getchannel("A"), dtype=np.uint8).copy()
    alpha[height - 300 :, width - 600 :] = 0
    ramp = np.linspace(255, 60, 400, dtype=np.float32).astype(np.uint8)
    alpha[height - 300 :, width - 1000 : width - 600] = ramp[None, :]
    img.putalpha(Image.fromarray(alpha))
    return img


def _pick_words(rng: np.random.Generator, count: int) -> list[str]:
    return [_WORDS[int(i)] for i in rng.integers(0, len(_WORDS), count)]


def _thumb(rng: np.random.Generator, width: int, height: int) -> Image.Image:
    gy = np.linspace(0, 1, height, dtype=np.float32)[:, None]
    gx = np.linspace(0, 1, width, dtype=np.float32)[None, :]
    c0, c1 = rng.integers(40, 220, 3), rng.integers(40, 220, 3)
    t = (gx + gy) / 2
    rgb = c0[None, None, :] * (1 - t[..., None]) + c1[None, None, :] * t[..., None]
    thumb = Image.fromarray(rgb.astype(np.uint8))
    d = ImageDraw.Draw(thumb)
    for _ in range(5):
        x, y, r = (
            int(rng.integers(0, width)),
            int(rng.integers(0, height)),
            int(rng.integers(10, 80)),
        )
        d.ellipse((x - r, y - r, x + r, y + r), fill=tuple(int(c) for c in rng.integers(0, 255, 3)))
    return thumb.convert("RGBA")


def _write_png(path: Path) -> tuple[int, int, int]:
    img = screenshot()
    img.save(path, "PNG")
    return img.width, img.height, 1


# --- animation --------------------------------------------------------------------------

GIF_FRAMES = 200
GIF_DELAY_MS = 40


def animation(
    width: int = 480, height: int = 270, frames: int = GIF_FRAMES, seed: int = SEED + 5
) -> list[Image.Image]:
    """Moving shapes over a gradient, drawn straight into one fixed 256-colour palette."""
    rng = np.random.default_rng(seed)
    palette = np.zeros((256, 3), dtype=np.uint8)
    ramp = np.linspace(0, 1, 128)[:, None]
    palette[:128] = (np.array([20, 40, 90]) * (1 - ramp) + np.array([120, 190, 240]) * ramp).astype(
        np.uint8
    )
    palette[128:] = rng.integers(0, 256, (128, 3), dtype=np.uint8)
    background = np.asarray(
        (np.linspace(0, 127.99, height)[:, None] + np.zeros((1, width))), dtype=np.uint8
    )
    shapes = [
        (
            rng.uniform(0, width),
            rng.uniform(0, height),
            rng.uniform(-4, 4),
            rng.uniform(-3, 3),
            int(rng.integers(8, 40)),
            int(rng.integers(128, 256)),
            int(rng.integers(0, 3)),
        )
        for _ in range(14)
    ]
    out = []
    for index in range(frames):
        frame = Image.fromarray(background).convert("P")
        frame.putpalette(palette.tobytes())
        d = ImageDraw.Draw(frame)
        for x, y, vx, vy, r, colour, kind in shapes:
            cx, cy = (x + vx * index) % width, (y + vy * index) % height
            box = (cx - r, cy - r, cx + r, cy + r)
            if kind == 0:
                d.ellipse(box, fill=colour)
            elif kind == 1:
                d.rectangle(box, fill=colour)
            else:
                d.polygon([(cx, cy - r), (cx + r, cy + r), (cx - r, cy + r)], fill=colour)
        out.append(frame)
    return out


def _write_gif(path: Path) -> tuple[int, int, int]:
    frames = animation()
    frames[0].save(
        path,
        "GIF",
        save_all=True,
        append_images=frames[1:],
        duration=GIF_DELAY_MS,
        loop=0,
        optimize=False,
    )
    return frames[0].width, frames[0].height, len(frames)


_WRITERS: dict[str, Callable[[Path], tuple[int, int, int]]] = {
    "12mp": _jpeg_writer(4000, 3000, SEED + 1, gps=True),
    "24mp": _jpeg_writer(6000, 4000, SEED + 2, gps=True),
    "50mp": _jpeg_writer(8640, 5760, SEED + 3, gps=True),
    "50mp-prog": _jpeg_writer(8640, 5760, SEED + 3, progressive=True, gps=True),
    "png-4k": _write_png,
    "gif-200f": _write_gif,
}
