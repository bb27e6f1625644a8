from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from pixstash.db.migrate import current_revision, head_revision, upgrade
from pixstash.db.models import Base


def test_migrations_match_the_models(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/m.db"
    upgrade(url)
    assert current_revision(url) == head_revision()
    engine = create_engine(url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == []


def test_downgrade_to_base_and_back(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/m.db"
    upgrade(url)
    from alembic import command

    from pixstash.db.migrate import alembic_config

    command.downgrade(alembic_config(url), "base")
    engine = create_engine(url)
    assert set(inspect(engine).get_table_names()) == {"alembic_version"}
    engine.dispose()
    upgrade(url)
    assert current_revision(url) == head_revision()


def test_placeholder_columns_come_and_go_without_losing_blobs(tmp_path: Path) -> None:
    from alembic import command

    from pixstash.db.migrate import alembic_config

    url = f"sqlite:///{tmp_path}/m.db"
    upgrade(url, "0001")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO blobs (hash, format, size, width, height, frames, refcount, state,"
                " status, created_at) VALUES ('h', 'jpeg', 1, 2, 3, 1, 1, 'active', 'ready',"
                " '2026-11-30 00:00:00')"
            )
        )
    upgrade(url)
    with engine.begin() as conn:
        assert conn.execute(text("SELECT placeholder, colour FROM blobs")).all() == [(None, None)]
        conn.execute(text("UPDATE blobs SET placeholder = 'LVHLl1', colour = '#7b7b7b'"))
    command.downgrade(alembic_config(url), "0001")
    columns = {column["name"] for column in inspect(engine).get_columns("blobs")}
    assert {"placeholder", "colour"}.isdisjoint(columns)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT hash, width, height FROM blobs")).all() == [("h", 2, 3)]
    engine.dispose()
