"""Alembic migrations, on every backend: they build what the models describe, and go
down and up again without losing rows."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from typer.testing import CliRunner

from pixstash.cli.main import app as cli
from pixstash.db.migrate import alembic_config, current_revision, head_revision, upgrade
from pixstash.db.models import Base
from tests.helpers import sync_engine

FreshDatabase = Callable[[], str]


def test_migrations_match_the_models(fresh_database_url: FreshDatabase) -> None:
    url = fresh_database_url()
    upgrade(url)
    assert current_revision(url) == head_revision()
    with sync_engine(url) as engine, engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_downgrade_to_base_and_back(fresh_database_url: FreshDatabase) -> None:
    url = fresh_database_url()
    upgrade(url)
    command.downgrade(alembic_config(url), "base")
    with sync_engine(url) as engine:
        assert set(inspect(engine).get_table_names()) == {"alembic_version"}
    upgrade(url)
    assert current_revision(url) == head_revision()


def test_placeholder_columns_come_and_go_without_losing_blobs(
    fresh_database_url: FreshDatabase,
) -> None:
    url = fresh_database_url()
    upgrade(url, "0001")
    with sync_engine(url) as engine:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO blobs (hash, format, size, width, height, frames, refcount,"
                    " state, status, created_at) VALUES ('h', 'jpeg', 1, 2, 3, 1, 1, 'active',"
                    " 'ready', '2026-11-30 00:00:00')"
                )
            )
        upgrade(url)
        with engine.begin() as conn:
            rows = conn.execute(text("SELECT placeholder, colour FROM blobs")).all()
            assert rows == [(None, None)]
            conn.execute(text("UPDATE blobs SET placeholder = 'LVHLl1', colour = '#7b7b7b'"))
        command.downgrade(alembic_config(url), "0001")
        columns = {column["name"] for column in inspect(engine).get_columns("blobs")}
        assert {"placeholder", "colour"}.isdisjoint(columns)
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT hash, width, height FROM blobs")).all()
            assert rows == [("h", 2, 3)]


def test_pixstash_db_upgrade_migrates(
    fresh_database_url: FreshDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = fresh_database_url()
    monkeypatch.setenv("PIXSTASH_DATABASE_URL", url)
    for _ in range(2):  # safe to run again
        result = CliRunner().invoke(cli, ["db", "upgrade"])
        assert result.exit_code == 0, result.output
        assert f"database at revision {head_revision()}" in result.output
    with sync_engine(url) as engine:
        assert {"images", "blobs", "variants", "jobs"} <= set(inspect(engine).get_table_names())
