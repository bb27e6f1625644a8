"""Engines for the metadata database.

SQLite runs in WAL mode with a busy timeout. Write transactions start with
``BEGIN IMMEDIATE`` so two writers never deadlock upgrading a read lock; reads use a
second engine with plain deferred transactions so they never wait for writers.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from pixstash.errors import ConfigurationError, DatabaseUnavailable

SCHEMES = ("sqlite", "postgresql")


def async_url(url: str) -> URL:
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite")
    if backend == "postgresql":
        return parsed.set(drivername="postgresql+psycopg")
    raise ConfigurationError(
        f"Unknown database URL scheme {parsed.drivername!r}; valid: "
        "sqlite:///path/to/file.db, postgresql+psycopg://user@host/db"
    )


def sync_url(url: str) -> URL:
    """The URL Alembic uses (synchronous driver)."""
    parsed = async_url(url)
    if parsed.get_backend_name() == "sqlite":
        return parsed.set(drivername="sqlite")
    return parsed


def sqlite_path(url: URL) -> Path | None:
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database)


def _install_sqlite_pragmas(engine: AsyncEngine, *, immediate: bool) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


class Database:
    """Owns the engines; hands out sessions for reads and for writes."""

    def __init__(self, url: str) -> None:
        self.url = async_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        path = sqlite_path(self.url)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        if self.is_sqlite:
            self.write_engine = create_async_engine(self.url, pool_size=4, max_overflow=4)
            self.read_engine = create_async_engine(self.url, pool_size=8, max_overflow=8)
            _install_sqlite_pragmas(self.write_engine, immediate=True)
            _install_sqlite_pragmas(self.read_engine, immediate=False)
        else:
            engine = create_async_engine(self.url, pool_pre_ping=True, pool_size=10)
            self.write_engine = self.read_engine = engine
        self._write = async_sessionmaker(self.write_engine, expire_on_commit=False)
        self._read = async_sessionmaker(self.read_engine, expire_on_commit=False)

    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """A transaction that commits on success and rolls back on error."""
        try:
            async with self._write() as session, session.begin():
                yield session
        except OperationalError as exc:
            raise DatabaseUnavailable(f"Database error: {exc.orig}") from exc

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        try:
            async with self._read() as session, session.begin():
                yield session
        except OperationalError as exc:
            raise DatabaseUnavailable(f"Database error: {exc.orig}") from exc

    async def ping(self) -> None:
        async with self.read() as session:
            await session.execute(text("SELECT 1"))

    async def close(self) -> None:
        await self.write_engine.dispose()
        if self.read_engine is not self.write_engine:
            await self.read_engine.dispose()
