"""Migration 0004 (accounts): upload sessions in flight survive it both ways, anonymous."""

from __future__ import annotations

from collections.abc import Callable

from alembic import command
from sqlalchemy import inspect, text

from pixstash.db.migrate import alembic_config, upgrade
from tests.helpers import sync_engine


def test_upload_sessions_keep_their_rows(fresh_database_url: Callable[[], str]) -> None:
    url = fresh_database_url()
    upgrade(url, "0003")
    with sync_engine(url) as engine:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO upload_sessions (id, key, content_type, size, state,"
                    " created_at, expires_at) VALUES ('s1', 'incoming/s1', 'image/png', 10,"
                    " 'pending', '2026-12-14 00:00:00', '2026-12-14 01:00:00')"
                )
            )
        upgrade(url)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT id, owner_id FROM upload_sessions")).all() == [
                ("s1", None)
            ]
        assert {"users", "api_tokens", "web_sessions"} <= set(inspect(engine).get_table_names())
        command.downgrade(alembic_config(url), "0003")
        tables = set(inspect(engine).get_table_names())
        assert {"users", "api_tokens", "web_sessions"}.isdisjoint(tables)
        columns = {column["name"] for column in inspect(engine).get_columns("upload_sessions")}
        assert "owner_id" not in columns
        with engine.connect() as conn:
            assert conn.execute(text("SELECT id FROM upload_sessions")).all() == [("s1",)]
