from __future__ import annotations

import pytest
from PIL import Image

from pixstash.domain.variants import (
    BIG_SQUARE,
    FULL,
    LARGE,
    MEDIUM,
    SMALL_SQUARE,
    THUMB,
    VariantSpec,
)
from pixstash.processing import resize
from pixstash.processing.resize import Renditions, centre_square, decode_size


def test_decode_size_covers_every_target_with_headroom() -> None:
    assert decode_size([THUMB, LARGE], 4000, 3000) == (1280, 960)
    assert decode_size([SMALL_SQUARE, BIG_SQUARE], 4000, 3000) == (320, 320)
    assert decode_size([FULL, THUMB], 4000, 3000) is None
    assert decode_size([], 4000, 3000) is None


def test_centre_square() -> None:
    assert centre_square(300, 100) == (100, 0, 200, 100)
    assert centre_square(100, 301) == (0, 100, 100, 200)


@pytest.fixture
def resized_from(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """Records the size of the image each resize starts from."""
    sources: list[tuple[int, int]] = []
    original = resize._resize

    def spy(frame: Image.Image, size: tuple[int, int], box: tuple[int, int, int, int] | None):
        sources.append(frame.size)
        return original(frame, size, box)

    monkeypatch.setattr(resize, "_resize", spy)
    return sources


def test_smaller_targets_come_from_roomy_renditions(resized_from) -> None:
    renditions = Renditions([Image.new("RGB", (2000, 1000))], 2000, 1000)

    large = renditions.get(LARGE, 1)
    medium = renditions.get(MEDIUM, 1)
    thumb = renditions.get(THUMB, 1)
    small = renditions.get(SMALL_SQUARE, 1)

    assert [f.size for f in (*large, *medium, *thumb, *small)] == [
        (640, 320),
        (320, 160),
        (160, 80),
        (90, 90),
    ]
    # medium from large (2x), thumb from medium (2x); a 90 square needs 180 px of height,
    # which only large (320) has.
    assert resized_from == [(2000, 1000), (640, 320), (320, 160), (640, 320)]


def test_renditions_without_headroom_fall_back_to_the_source(resized_from) -> None:
    renditions = Renditions([Image.new("RGB", (1000, 1000))], 1000, 1000)

    renditions.get(LARGE, 1)
    renditions.get(VariantSpec("custom", "x", 400, crop=False, eager=False), 1)

    assert resized_from == [(1000, 1000), (1000, 1000)]


def test_single_frame_renditions_do_not_serve_animations(resized_from) -> None:
    frames = [Image.new("RGB", (400, 400)) for _ in range(3)]
    renditions = Renditions(frames, 400, 400)

    assert len(renditions.get(THUMB, 1)) == 1
    assert len(renditions.get(THUMB, 3)) == 3
    assert resized_from[0] == (400, 400)
    assert resized_from.count((400, 400)) == 4  # 1 + 3 frames, the 1-frame one not reused


def test_target_of_source_size_is_not_resized(resized_from) -> None:
    frames = [Image.new("RGB", (100, 50))]

    assert Renditions(frames, 100, 50).get(THUMB, 1) == frames
    assert resized_from == []
