from __future__ import annotations

from PIL import ExifTags, Image

from pixstash.domain.formats import SourceFormat
from pixstash.domain.variants import BIG_SQUARE, FULL, LARGE, THUMB
from pixstash.processing.decode import decode


def test_jpeg_is_decoded_at_the_smallest_scale_that_serves_all_targets(samples) -> None:
    path = samples.save(Image.new("RGB", (4000, 2000), "green"), "JPEG")

    thumbs = decode(path, SourceFormat.JPEG, [THUMB, BIG_SQUARE])
    large = decode(path, SourceFormat.JPEG, [THUMB, LARGE])
    full = decode(path, SourceFormat.JPEG, [THUMB, FULL])

    assert (thumbs.width, thumbs.height) == (4000, 2000)
    # A 160 square needs >= 320 on the short side: 1/4 scale (1/8 would leave 250).
    assert thumbs.frames[0].size == (1000, 500)
    assert large.frames[0].size == (2000, 1000)  # 1/2: >= 2 x (640 x 320)
    assert full.frames[0].size == (4000, 2000)


def test_reduced_decode_accounts_for_orientation(samples) -> None:
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    path = samples.save(Image.new("RGB", (4000, 1000), "green"), "JPEG", exif=exif)

    decoded = decode(path, SourceFormat.JPEG, [THUMB])

    assert (decoded.width, decoded.height) == (1000, 4000)
    # Upright, at 1/8: still >= 2 x the 40 x 160 thumb.
    assert decoded.frames[0].size == (125, 500)


def test_frames_carry_no_metadata(samples) -> None:
    frames = samples.animation_frames(count=2)
    path = samples.animation("GIF", frames, duration=[70, 90], loop=2, comment=b"secret")

    decoded = decode(path, SourceFormat.GIF, [FULL])

    assert [frame.info for frame in decoded.frames] == [{}, {}]
    assert decoded.durations == [70, 90]
    assert decoded.loop == 2
    assert {frame.mode for frame in decoded.frames} == {"RGB"}


def test_only_the_first_frame_when_no_output_is_animated(samples) -> None:
    path = samples.animation("GIF", samples.animation_frames(count=3), duration=100, loop=0)

    decoded = decode(path, SourceFormat.GIF, [THUMB], all_frames=False)

    assert len(decoded.frames) == 1
    assert decoded.loop is None
