"""One contract for every BlobStore backend (local disk, memory, S3)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pixstash.errors import BadRequest, BlobMissing
from pixstash.storage.base import BlobStore
from pixstash.storage.local import LocalBlobStore
from pixstash.storage.memory import MemoryBlobStore
from pixstash.storage.s3 import S3BlobStore
from tests.s3server import S3Endpoint

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["local", "memory", "s3"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[BlobStore]:
    backend: BlobStore
    if request.param == "local":
        backend = LocalBlobStore.from_url(f"file://{tmp_path}/blobs")
    elif request.param == "memory":
        backend = MemoryBlobStore.from_url("memory://")
    else:  # a fresh bucket per test; a prefix, so key mapping is exercised too
        s3: S3Endpoint = request.getfixturevalue("s3_endpoint")
        backend = S3BlobStore.from_url(s3.storage_url(s3.new_bucket(), "pixstash"))
    await backend.check()
    yield backend
    await backend.close()


async def test_put_get_stat_delete(store: BlobStore) -> None:
    await store.put_bytes("thumb/ab/cd/abcd.jpg", b"hello")
    assert await store.get_bytes("thumb/ab/cd/abcd.jpg") == b"hello"
    stat = await store.stat("thumb/ab/cd/abcd.jpg")
    assert stat is not None
    assert stat.size == 5
    await store.delete("thumb/ab/cd/abcd.jpg")
    assert await store.stat("thumb/ab/cd/abcd.jpg") is None
    await store.delete("thumb/ab/cd/abcd.jpg")  # idempotent


async def test_missing_key_raises_blob_missing(store: BlobStore) -> None:
    with pytest.raises(BlobMissing):
        await store.get_bytes("original/no/pe/nope.png")


async def test_put_file_stores_a_copy_and_leaves_the_source(
    store: BlobStore, tmp_path: Path
) -> None:
    source = tmp_path / "upload.bin"
    source.write_bytes(b"x" * 1000)
    await store.put_file("original/aa/bb/aabb.jpg", source)
    assert source.read_bytes() == b"x" * 1000
    source.unlink()
    assert await store.get_bytes("original/aa/bb/aabb.jpg") == b"x" * 1000


async def test_sweep_incomplete_keeps_fresh_leftovers(store: BlobStore) -> None:
    await store.put_bytes("thumb/x.jpg", b"1")
    assert await store.sweep_incomplete(3600) == 0
    assert await store.get_bytes("thumb/x.jpg") == b"1"


async def test_overwrite_replaces_whole_object(store: BlobStore) -> None:
    await store.put_bytes("full/k.png", b"first version")
    await store.put_bytes("full/k.png", b"2nd")
    assert await store.get_bytes("full/k.png") == b"2nd"


async def test_download_copies_to_a_local_file(store: BlobStore, tmp_path: Path) -> None:
    await store.put_bytes("medium/m.webp", b"webp-bytes")
    dest = tmp_path / "copy.webp"
    await store.download("medium/m.webp", dest)
    assert dest.read_bytes() == b"webp-bytes"


async def test_iter_objects_by_prefix(store: BlobStore) -> None:
    for key in ("original/a.jpg", "thumb/a.jpg", "thumb/b.jpg"):
        await store.put_bytes(key, b"1")
    keys = sorted([o.key async for o in store.iter_objects("thumb/")])
    assert keys == ["thumb/a.jpg", "thumb/b.jpg"]
    assert len([o async for o in store.iter_objects()]) == 3


@pytest.mark.parametrize("key", ["../escape", "/abs", "a//b", "a/./b", ""])
async def test_unsafe_keys_are_refused(store: BlobStore, key: str) -> None:
    with pytest.raises(BadRequest):
        await store.put_bytes(key, b"x")


async def test_local_store_leaves_no_temp_files(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    for i in range(5):
        await store.put_bytes(f"thumb/{i}.jpg", b"data")
    source = tmp_path / "src.bin"
    source.write_bytes(b"abc")
    await store.put_file("original/x.jpg", source)
    staging = tmp_path / "blobs" / ".staging"
    assert list(staging.iterdir()) == []
    leftover = staging / "put-crashed"
    leftover.write_bytes(b"half")
    os.utime(leftover, (1, 1))
    assert await store.sweep_incomplete(3600) == 1
    assert [o.key async for o in store.iter_objects()] != []
    assert all(not o.key.startswith(".") for o in [o async for o in store.iter_objects()])


async def test_local_blobs_are_readable_by_a_web_server(tmp_path: Path) -> None:
    """nginx (X-Accel-Redirect) reads blobs as another user: not 0600 temp-file modes."""
    umask = os.umask(0o022)
    os.umask(umask)
    store = LocalBlobStore(tmp_path / "blobs")
    source = tmp_path / "upload"
    source.write_bytes(b"original")
    await store.put_file("original/aa/bb/x.jpg", source)
    await store.put_bytes("thumb/aa/bb/x.jpg", b"variant")

    for key in ("original/aa/bb/x.jpg", "thumb/aa/bb/x.jpg"):
        path = store.local_path(key)
        assert path is not None
        assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # 0644 under umask 022


async def test_read_head_gives_the_first_bytes(store: BlobStore) -> None:
    await store.put_bytes("incoming/head", b"\x89PNG\r\n\x1a\n" + b"x" * 100)
    assert await store.read_head("incoming/head", 8) == b"\x89PNG\r\n\x1a\n"
    assert await store.read_head("incoming/head", 1000) == b"\x89PNG\r\n\x1a\n" + b"x" * 100
    with pytest.raises(BlobMissing):
        await store.read_head("incoming/absent", 8)


async def test_presigned_post_only_where_clients_reach_the_store(store: BlobStore) -> None:
    post = await store.presigned_post(
        "incoming/abc", content_type="image/png", max_bytes=10, expires_seconds=60
    )
    if isinstance(store, S3BlobStore):
        assert post is not None
        assert post.fields["key"].endswith("/incoming/abc")
        assert post.fields["Content-Type"] == "image/png"
    else:  # the app signs its own upload URL instead
        assert post is None
