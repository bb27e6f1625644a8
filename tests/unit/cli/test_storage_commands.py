"""``pixstash storage setup`` and what ``pixstash gc`` does to abandoned direct uploads."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from typer.testing import CliRunner

from pixstash.cli.main import app
from pixstash.db.base import UploadSession, UploadState
from pixstash.db.engine import Database
from pixstash.db.upload_sessions import SqlUploadSessionStore
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
    monkeypatch.setenv("PIXSTASH_PUBLIC_URL", "https://img.example.com/")
    foreign = {"AllowedOrigins": ["*"], "AllowedMethods": ["GET"]}
    s3_endpoint.client.put_bucket_cors(
        Bucket=bucket, CORSConfiguration={"CORSRules": [{"ID": "public-read", **foreign}]}
    )
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
    assert f"CORS rules of bucket {bucket}:" in result.output
    assert "set pixstash-direct-upload@pix: allow POST from https://img.example.com" in said(
        result.output
    )
    assert "kept public-read: allow GET from *" in said(result.output)
    cors = s3_endpoint.client.get_bucket_cors(Bucket=bucket)["CORSRules"]
    assert [rule.get("ID") for rule in cors] == ["public-read", "pixstash-direct-upload@pix"]
    assert cors[1]["AllowedOrigins"] == ["https://img.example.com"]
    assert cors[1]["AllowedMethods"] == ["POST"]


def test_storage_setup_without_public_url_installs_no_cors_rule(
    env: Path, s3_endpoint: S3Endpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = s3_endpoint.new_bucket()
    monkeypatch.setenv("PIXSTASH_STORAGE_URL", s3_endpoint.storage_url(bucket))
    monkeypatch.delenv("PIXSTASH_PUBLIC_URL", raising=False)
    result = runner.invoke(app, ["storage", "setup"])
    assert result.exit_code == 0, result.output
    assert "no CORS rule installed: set PIXSTASH_PUBLIC_URL" in said(result.output)
    assert s3_endpoint.client.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    with pytest.raises(ClientError, match="NoSuchCORSConfiguration"):
        s3_endpoint.client.get_bucket_cors(Bucket=bucket)


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


async def add_session(url: str, session_id: str, expires_at: datetime) -> None:
    db = Database(url)
    try:
        await SqlUploadSessionStore(db).create_upload_session(
            UploadSession(
                id=session_id,
                key=f"incoming/{session_id}",
                filename=None,
                content_type="image/png",
                size=7,
                state=UploadState.PENDING,
                created_at=expires_at - timedelta(days=3),
                expires_at=expires_at,
            )
        )
    finally:
        await db.close()


def test_gc_keeps_uploads_that_can_still_be_completed_and_forgets_expired_ones(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIXSTASH_DIRECT_UPLOAD_SECONDS", str(3 * DAY))
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    url, now = f"sqlite:///{env}/cli.db", datetime.now(UTC)
    asyncio.run(add_session(url, "slow", now + timedelta(days=2)))  # open for 5 more days
    asyncio.run(add_session(url, "over", now - timedelta(days=4)))  # closed a day ago
    incoming = env / "blobs" / "incoming"
    incoming.mkdir(parents=True)
    for name in ("slow", "over"):
        (incoming / name).write_bytes(b"z" * 7)
        os.utime(incoming / name, (time.time() - 2 * DAY, time.time() - 2 * DAY))

    dry = runner.invoke(app, ["gc", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "1 abandoned upload(s) (7 bytes)" in said(dry.output)
    assert "would forget 1 expired or finished upload session(s)" in said(dry.output)
    result = runner.invoke(app, ["gc"])
    assert result.exit_code == 0, result.output
    assert "forgot 1 expired or finished upload session(s)" in said(result.output)
    assert sorted(p.name for p in incoming.iterdir()) == ["slow"]
