"""Throwaway PostgreSQL databases for tests, on the server of ``PIXSTASH_TEST_POSTGRES_URL``
(default: 127.0.0.1:5432, user postgres, which may create databases).

Without a reachable server the PostgreSQL tests are skipped, loudly; under CI=true they
fail instead, so CI never passes without having run them.
"""

from __future__ import annotations

import os
import secrets

import pytest
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from pixstash.db.models import Base

ADMIN_URL = os.environ.get(
    "PIXSTASH_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


class PostgresServer:
    """Makes databases named ``pixstash_<purpose>_<random>`` and drops them at the end."""

    def __init__(self, admin_url: str = ADMIN_URL) -> None:
        self.admin_url = make_url(admin_url)
        self.admin = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        self.made: list[str] = []

    def check(self) -> None:
        """Skip (fail under CI=true) when the server cannot be reached."""
        try:
            with self.admin.connect() as conn:
                conn.execute(text("SELECT 1"))
        except OperationalError as exc:
            self.admin.dispose()
            reason = (
                f"PostgreSQL at {self.admin_url.render_as_string(hide_password=True)} is "
                f"unreachable ({exc.orig}); set PIXSTASH_TEST_POSTGRES_URL or start it"
            )
            if in_ci():
                pytest.fail(f"CI=true needs PostgreSQL: {reason}", pytrace=False)
            pytest.skip(f"!!! POSTGRESQL TESTS SKIPPED: {reason} !!!")

    def create(self, purpose: str) -> str:
        """A new empty database; returns its URL."""
        name = f"pixstash_{purpose}_{secrets.token_hex(4)}"
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        self.made.append(name)
        return self.admin_url.set(database=name).render_as_string(hide_password=False)

    def drop_all(self) -> None:
        with self.admin.connect() as conn:
            for name in self.made:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.admin.dispose()


class MigratedDatabase:
    """A migrated database that tests share, emptied before each test (TRUNCATE keeps
    the schema and costs a few milliseconds; migrating anew would cost far more)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: Engine = create_engine(url, isolation_level="AUTOCOMMIT")
        self.conn: Connection = self.engine.connect()
        # A test that leaked an open transaction makes the next one fail, not hang.
        self.conn.execute(text("SET lock_timeout = '10s'"))
        tables = ", ".join(table.name for table in Base.metadata.sorted_tables)
        self.empty_statement = text(f"TRUNCATE {tables} RESTART IDENTITY")

    def empty(self) -> None:
        self.conn.execute(self.empty_statement)

    def close(self) -> None:
        self.conn.close()
        self.engine.dispose()
