from __future__ import annotations

import pytest

from pixstash.domain.model import Placeholder


def test_placeholder_holds_a_blurhash_and_a_hex_colour() -> None:
    found = Placeholder(blurhash="LVHLl1t7~qxut7j[ofj[~qofofof", colour="#7b7b7b")
    assert found.colour == "#7b7b7b"


@pytest.mark.parametrize(
    ("blurhash", "colour"),
    [
        ("LVHLl1t7~qxut7j[ofj[~qofofof", "red"),
        ("LVHLl1t7~qxut7j[ofj[~qofofof", "#7B7B7B"),  # one spelling: lower case
        ("LVHLl1t7~qxut7j[ofj[~qofofof", "#7b7b7b; background: url(x)"),
        ("LVHL", "#7b7b7b"),
        ("L" * 65, "#7b7b7b"),  # would not fit its column
    ],
)
def test_placeholder_refuses_what_it_cannot_be(blurhash: str, colour: str) -> None:
    with pytest.raises(ValueError, match=r"colour|blurhash"):
        Placeholder(blurhash=blurhash, colour=colour)
