"""``pixstash storage setup`` and what ``pixstash gc`` does to abandoned direct uploads."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pixstash.cli.main import app
from tests.s3server import S3Endpoint, moto_s3

runner = CliRunner()
DAY = 24 * 3600


def said(output: str) -> str:
    """The output with rich's line wrapping undone."""
    return " ".join(output.split())


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[S3Endpoint]:
    with moto_s3() as endpoint:
        yield endpoint


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PIXSTASH_DATABASE_URL", f"sqlite:///{tmp_path}/cli.db")
    monkeypatch.setenv("PIXSTASH_STORAGE_URL", f"file://{tmp_path}/blobs")
    monkeypatch.setenv("PIXSTASH_TMP_DIR", str(tmp_path / "tmp"))
    return tmp_path


def test_storage_setup_on_local_disk_points_at_gc(env: Path) -> None:
    result = runner.invoke(app, ["storage", "setup"])
    assert result.exit_code == 0, result.output
    assert "no lifecycle rules to install" in result.output
    assert "pixstash gc" in result.output


def test_storage_setup_on_s3_prints_the_rules(
    env: Path, s3_endpoint: S3Endpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = s3_endpoint.new_bucket()
    monkeypatch.setenv("PIXSTASH_STORAGE_URL", s3_endpoint.storage_url(bucket, "pix"))
    result = runner.invoke(
        app, ["storage", "setup", "--cold-after-days", "60", "--cold-class", "GLACIER_IR"]
    )
    assert result.exit_code == 0, result.output
    assert "set pixstash-expire-incoming@pix: delete objects under 'pix/incoming/'" in said(
        result.output
    )
    assert "to GLACIER_IR after 60 day(s)" in said(result.output)
    rules = s3_endpoint.client.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert len(rules) == 3


def test_storage_setup_refuses_a_bad_cold_class(
    env: Path, s3_endpoint: S3Endpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIXSTASH_STORAGE_URL", s3_endpoint.storage_url(s3_endpoint.new_bucket()))
    result = runner.invoke(app, ["storage", "setup", "--cold-after-days", "5"])
    assert result.exit_code == 1
    assert "STANDARD_IA after 30 day(s) at the earliest" in said(result.output)


def test_gc_removes_uploads_left_in_incoming_for_a_day(env: Path) -> None:
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    incoming = env / "blobs" / "incoming"
    incoming.mkdir(parents=True)
    old, recent, fresh = (incoming / f"{name}.jpg" for name in ("old", "recent", "fresh"))
    for path in (old, recent, fresh):
        path.write_bytes(b"z" * 7)
    now = time.time()
    os.utime(old, (now - DAY - 60, now - DAY - 60))
    os.utime(recent, (now - 2 * 3600, now - 2 * 3600))  # older than the orphan grace only
    dry = runner.invoke(app, ["gc", "--dry-run"])
    assert "would remove 0 orphan object(s) (0 bytes) and 1 abandoned upload(s) (7 bytes)" in said(
        dry.output
    )
    assert old.exists()
    result = runner.invoke(app, ["gc"])
    assert result.exit_code == 0, result.output
    assert "1 abandoned upload(s)" in said(result.output)
    assert not old.exists()
    assert recent.exists()
    assert fresh.exists()
    assert runner.invoke(app, ["gc", "--incoming-grace", "0"]).exit_code == 0
    assert list(incoming.iterdir()) == []
