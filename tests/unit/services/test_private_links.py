"""Signed media URLs of private images: valid until their expiry, for their name only."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

from pixstash.domain.clock import Clock
from pixstash.services.private_links import PrivateLinkSigner


def parts(path: str) -> tuple[str, str, str]:
    split = urlsplit(path)
    query = parse_qs(split.query)
    return split.path.removeprefix("/p/"), query["exp"][0], query["sig"][0]


def test_a_signed_url_is_valid_for_its_lifetime_then_refused() -> None:
    clock = Clock()
    signer = PrivateLinkSigner(b"secret", lifetime_seconds=900, clock=clock)
    name, exp, sig = parts(signer.path("aB3dE5ft.png"))
    assert name == "aB3dE5ft.png"
    assert int(exp) % 60 == 0  # rounded up to the minute: one URL per minute
    left = signer.remaining(name, exp, sig)
    assert left is not None
    assert 900 <= left <= 960
    clock.advance(timedelta(seconds=left - 1))
    assert signer.remaining(name, exp, sig) == 1
    clock.advance(timedelta(seconds=1))
    assert signer.remaining(name, exp, sig) is None


def test_altered_urls_are_refused() -> None:
    signer = PrivateLinkSigner(b"secret", lifetime_seconds=900)
    name, exp, sig = parts(signer.path("aB3dE5ft.png"))
    assert signer.remaining("aB3dE5fm.png", exp, sig) is None
    assert signer.remaining(name, str(int(exp) + 60), sig) is None
    assert signer.remaining(name, exp, sig[:-1] + ("1" if sig.endswith("0") else "0")) is None
    assert signer.remaining(name, None, sig) is None
    assert signer.remaining(name, "-5", sig) is None
    other = PrivateLinkSigner(b"another secret", lifetime_seconds=900)
    assert other.remaining(name, exp, sig) is None
