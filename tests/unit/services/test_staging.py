from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from pixstash.errors import FileTooLarge
from pixstash.services.staging import StagingArea


def test_staged_file_is_hashed_and_sized(tmp_path: Path) -> None:
    area = StagingArea(tmp_path, max_bytes=100)
    writer = area.open("../../evil\r\nname.jpg")
    writer.write(b"abc")
    writer.write(b"def")
    staged = writer.finish()
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
