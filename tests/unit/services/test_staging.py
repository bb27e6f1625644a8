from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from pixstash.errors import FileTooLarge
from pixstash.services.staging import SPILL_BYTES, StagingArea


@pytest.mark.anyio
async def test_staged_file_is_hashed_and_sized(tmp_path: Path) -> None:
    area = StagingArea(tmp_path, max_bytes=100)
    writer = area.open("../../evil\r\nname.jpg")
    writer.write(b"abc")
    writer.write(b"def")
    assert list(tmp_path.iterdir()) == []  # small bodies stay in memory until finish
    staged = await writer.finish()
    assert staged.size == 6
    assert staged.sha256 == hashlib.sha256(b"abcdef").hexdigest()
    assert staged.filename == "evilname.jpg"
    assert staged.path.parent == tmp_path
    staged.discard()
    assert list(tmp_path.iterdir()) == []


def test_limit_is_enforced_while_writing_and_removes_the_file(tmp_path: Path) -> None:
    area = StagingArea(tmp_path, max_bytes=10)
    writer = area.open(None)
    writer.write(b"12345")
    with pytest.raises(FileTooLarge):
        writer.write(b"678901")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.anyio
async def test_large_bodies_spill_to_disk_as_they_arrive(tmp_path: Path) -> None:
    area = StagingArea(tmp_path, max_bytes=10 * SPILL_BYTES)
    writer = area.open(None)
    chunk = b"x" * (SPILL_BYTES // 2)
    for _ in range(3):
        writer.write(chunk)
    assert len(list(tmp_path.iterdir())) == 1  # on disk before the body ended
    staged = await writer.finish()
    assert staged.path.stat().st_size == 3 * len(chunk)
    assert staged.sha256 == hashlib.sha256(chunk * 3).hexdigest()
    spilled = area.open(None)
    for _ in range(20):
        spilled.write(chunk)
    with pytest.raises(FileTooLarge):
        spilled.write(chunk)
    staged.discard()
    assert list(tmp_path.iterdir()) == []


def test_sweep_removes_only_old_files(tmp_path: Path) -> None:
    import os

    area = StagingArea(tmp_path, max_bytes=10)
    old = tmp_path / "upload-old"
    old.write_bytes(b"x")
    os.utime(old, (1, 1))
    fresh = tmp_path / "upload-new"
    fresh.write_bytes(b"y")
    assert area.sweep(3600) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["upload-new"]


@pytest.mark.anyio
async def test_memory_held_by_all_uploads_together_is_bounded(tmp_path: Path) -> None:
    area = StagingArea(tmp_path, max_bytes=SPILL_BYTES, memory_budget=1000)
    first, second = area.open(None), area.open(None)
    first.write(b"a" * 800)
    assert area.memory_used == 800
    second.write(b"b" * 300)  # over the shared budget: straight to disk
    assert area.memory_used == 800
    assert len(list(tmp_path.iterdir())) == 1
    staged = [await first.finish(), await second.finish()]
    assert area.memory_used == 0
    assert [s.path.read_bytes() for s in staged] == [b"a" * 800, b"b" * 300]
    third = area.open(None)
    third.write(b"c" * 10)
    third.discard()
    assert area.memory_used == 0
