"""Alembic environment: the URL comes from ``config.attributes['url']`` (see migrate.py)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from pixstash.db.models import Base

config = context.config
url = config.attributes["url"]
engine = create_engine(url)
with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
