"""The ``pixstash`` command, run in-process."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pixstash.cli.main import app

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PIXSTASH_DATABASE_URL", f"sqlite:///{tmp_path}/cli.db")
    monkeypatch.setenv("PIXSTASH_STORAGE_URL", f"file://{tmp_path}/blobs")
    monkeypatch.setenv("PIXSTASH_TMP_DIR", str(tmp_path / "tmp"))
    return tmp_path


def test_help_lists_every_command() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("serve", "worker", "db", "gc", "config"):
        assert command in result.output
    serve_help = runner.invoke(app, ["serve", "--help"])
    for option in ("--host", "--port", "--workers"):
        assert option in serve_help.output


def test_db_upgrade_creates_the_schema(env: Path) -> None:
    result = runner.invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    with sqlite3.connect(env / "cli.db") as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    assert {"images", "blobs", "variants", "jobs"} <= tables
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0  # idempotent


def test_config_masks_secrets(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIXSTASH_SECRET_KEY", "hunter2-hunter2")
    monkeypatch.setenv("PIXSTASH_QUEUE_URL", "db://")
    result = runner.invoke(app, ["config", "--json"])
    assert result.exit_code == 0
    values = json.loads(result.output)
    assert values["secret_key"] == "**********"
    assert "hunter2" not in result.output
    assert values["database_url"] == f"sqlite:///{env}/cli.db"


def test_bad_configuration_exits_with_a_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIXSTASH_MAX_PIXELS", "lots")
    result = runner.invoke(app, ["config"])
    assert result.exit_code == 2
    assert "max_pixels" in result.output


def test_gc_removes_orphans_and_stale_temp_files(env: Path) -> None:
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    orphan = env / "blobs" / "original" / "aa" / "bb" / "orphan.jpg"
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"x" * 10)
    (env / "tmp").mkdir()
    (env / "tmp" / "upload-left-behind").write_bytes(b"y")
    dry = runner.invoke(app, ["gc", "--grace", "0", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "would remove 1 orphan object(s) (10 bytes)" in dry.output
    assert orphan.exists()
    result = runner.invoke(app, ["gc", "--grace", "0"])
    assert result.exit_code == 0, result.output
    assert not orphan.exists()
    assert list((env / "tmp").iterdir()) == []


def test_unknown_storage_scheme_stops_serve(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIXSTASH_STORAGE_URL", "ftp://nowhere/")
    monkeypatch.setenv("PIXSTASH_PORT", "8000")  # serve writes its options here; restored
    result = runner.invoke(app, ["serve", "--port", "1"])
    assert result.exit_code == 2
    assert "file://" in result.output
    assert "memory://" in result.output
