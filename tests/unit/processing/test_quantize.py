from __future__ import annotations

from PIL import Image, ImageChops, ImageStat

from pixstash.processing.quantize import TRANSPARENT_INDEX, to_gif_frames


def _few_colours() -> Image.Image:
    image = Image.new("RGB", (50, 40))
    for index in range(200):
        colour = (index, 255 - index, (index * 37) % 256)
        image.paste(colour, ((index % 50), (index // 50) * 10, (index % 50) + 1, 40))
    return image


def _gradient() -> Image.Image:
    red = Image.linear_gradient("L").resize((128, 64))
    green = red.transpose(Image.Transpose.ROTATE_180)
    return Image.merge("RGB", (red, green, Image.new("L", (128, 64), 90)))


def test_few_colours_get_an_exact_palette() -> None:
    source = _few_colours()

    (paletted,) = to_gif_frames([source], reserve_transparent=False)

    assert paletted.mode == "P"
    assert paletted.convert("RGB").tobytes() == source.tobytes()


def test_many_colours_stay_close_on_average() -> None:
    source = _gradient()

    (paletted,) = to_gif_frames([source], reserve_transparent=False)

    difference = ImageStat.Stat(ImageChops.difference(source, paletted.convert("RGB")))
    assert max(difference.mean) < 4


def test_animation_frames_share_one_palette_and_still_areas_match() -> None:
    frames = []
    for step in range(3):
        frame = _gradient()
        frame.paste((255, 255, 255), (step * 20, 0, step * 20 + 10, 10))
        frames.append(frame)

    paletted = to_gif_frames(frames, reserve_transparent=False)

    assert len({bytes(frame.getpalette() or []) for frame in paletted}) == 1
    still = (0, 20, 128, 64)
    assert len({frame.crop(still).tobytes() for frame in paletted}) == 1


def test_transparent_pixels_use_the_reserved_index() -> None:
    frame = Image.new("RGBA", (20, 10), (0, 0, 0, 255))  # black must not become a hole
    frame.paste((0, 0, 0, 0), (10, 0, 20, 10))

    (paletted,) = to_gif_frames([frame], reserve_transparent=True)

    assert paletted.getpixel((15, 5)) == TRANSPARENT_INDEX
    assert paletted.getpixel((5, 5)) != TRANSPARENT_INDEX
    assert paletted.info == {}
