from __future__ import annotations

import pytest

from pixstash.web.media import _etag_matches, _single_range


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-9", (0, 10)),
        ("bytes=5-", (5, 100)),
        ("bytes=-10", (90, 100)),
        ("bytes=90-200", (90, 100)),
        ("bytes=0-0,5-9", (0, 1)),
        ("bytes=100-", None),
        ("bytes=9-3", None),
        ("items=0-1", None),
        ("bytes=abc", None),
        ("bytes=-0", None),
    ],
)
def test_single_range(header: str, expected: tuple[int, int] | None) -> None:
    assert _single_range(header, 100) == expected


def test_etag_matching() -> None:
    assert _etag_matches('"abc"', '"abc"')
    assert _etag_matches('W/"abc", "def"', '"abc"')
    assert _etag_matches("*", '"abc"')
    assert not _etag_matches('"abd"', '"abc"')
    assert not _etag_matches(None, '"abc"')
