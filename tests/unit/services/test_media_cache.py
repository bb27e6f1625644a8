from __future__ import annotations

from pixstash.domain.formats import OutputFormat
from pixstash.domain.model import Variant
from pixstash.services.delivery import Media, MediaCache


def media(size: int) -> Media:
    variant = Variant("h", "thumb", OutputFormat.JPEG, "thumb/h.jpg", size, 1, 1, "e")
    return Media(variant, "image/jpeg", b"x" * size, None)


def test_lru_is_bounded_by_bytes() -> None:
    cache = MediaCache(max_bytes=250, max_item_bytes=100, ttl_seconds=60)
    for n in range(4):
        cache.put(f"img000{n}", f"img000{n}t.jpg", media(100), cache.generation())
    assert cache.size == 200
    assert cache.get("img0000t.jpg") is None  # the oldest went first
    assert cache.get("img0003t.jpg") is not None
    cache.put("big0000", "big0000.jpg", media(101), cache.generation())
    assert cache.get("big0000.jpg") is None  # over the item limit: never cached


def test_a_lookup_that_began_before_a_deletion_does_not_cache_it() -> None:
    cache = MediaCache(max_bytes=1000, max_item_bytes=100, ttl_seconds=60)
    began = cache.generation()
    cache.evict_image("abcdefg")  # the image is deleted meanwhile
    cache.put("abcdefg", "abcdefgt.jpg", media(10), began)
    assert cache.get("abcdefgt.jpg") is None
    cache.put("abcdefg", "abcdefgt.jpg", media(10), cache.generation())
    assert cache.get("abcdefgt.jpg") is not None
    cache.evict_image("abcdefg")
    assert cache.get("abcdefgt.jpg") is None
    assert cache.size == 0


def test_entries_expire() -> None:
    cache = MediaCache(max_bytes=1000, max_item_bytes=100, ttl_seconds=0)
    cache.put("abcdefg", "abcdefgt.jpg", media(10), cache.generation())
    assert cache.get("abcdefgt.jpg") is None
