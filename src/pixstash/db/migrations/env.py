"""Alembic environment: the URL comes from ``config.attributes['url']`` (see migrate.py)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, text

from pixstash.db.models import Base

# Servers started together all run migrations on start: on PostgreSQL the first one
# takes this lock for the migration's transaction, the others wait and find nothing to do.
MIGRATION_LOCK = 0x706978_7374_6173  # "pixstas", any constant shared by every server

config = context.config
url = config.attributes["url"]
engine = create_engine(url)
with engine.begin() as connection:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
