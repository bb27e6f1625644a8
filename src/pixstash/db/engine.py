"""Engines for the metadata database.

SQLite runs in WAL mode with a busy timeout. Write transactions start with
``BEGIN IMMEDIATE`` so two writers never deadlock upgrading a read lock; reads use a
second engine with plain deferred transactions so they never wait for writers.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, TypeVar

import anyio.to_thread
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from pixstash.db.batching import GroupCommitter
from pixstash.errors import ConfigurationError, DatabaseUnavailable

SCHEMES = ("sqlite", "postgresql")
T = TypeVar("T")


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


def _install_sqlite_pragmas(engine: AsyncEngine | Engine, *, immediate: bool) -> None:
    target = engine.sync_engine if isinstance(engine, AsyncEngine) else engine

    @event.listens_for(target, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(target, "begin")
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
            # One writer connection: SQLite serialises writers anyway, and waiting for
            # the pool is a fair queue, where a busy database makes writers sleep-poll.
            self.write_engine = create_async_engine(self.url, pool_size=1, max_overflow=0)
            self.read_engine = create_async_engine(self.url, pool_size=8, max_overflow=8)
            # Hot-path writes run whole in one worker thread on a plain sqlite3
            # connection: one thread hop instead of one per statement (aiosqlite).
            self.sync_write_engine: Engine | None = create_engine(
                sync_url(url), pool_size=1, max_overflow=0
            )
            _install_sqlite_pragmas(self.write_engine, immediate=True)
            _install_sqlite_pragmas(self.read_engine, immediate=False)
            _install_sqlite_pragmas(self.sync_write_engine, immediate=True)
        else:
            engine = create_async_engine(self.url, pool_pre_ping=True, pool_size=10)
            self.write_engine = self.read_engine = engine
            self.sync_write_engine = None
        # In-process writers queue here (fairly) instead of sleep-polling SQLite's lock.
        self._write_lock = asyncio.Lock()
        self._group = (
            GroupCommitter(self.sync_write_engine, self._write_lock)
            if self.sync_write_engine is not None
            else None
        )
        self._write = async_sessionmaker(self.write_engine, expire_on_commit=False)
        self._read = async_sessionmaker(self.read_engine, expire_on_commit=False)

    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """A transaction that commits on success and rolls back on error."""
        try:
            async with self._write_lock, self._write() as session, session.begin():
                yield session
        except OperationalError as exc:
            raise DatabaseUnavailable(f"Database error: {exc.orig}") from exc

    async def run_write(self, work: Callable[[Connection], T]) -> T:
        """Run ``work`` in a write transaction and return its result once committed.

        On SQLite, concurrent calls share one transaction and one COMMIT (group commit,
        each in its own savepoint), run whole in one worker thread. ``work`` gets a
        synchronous Connection, must not await, and may run beside other work."""
        try:
            if self.sync_write_engine is None:
                async with self.write() as session:
                    return await session.run_sync(lambda sync: work(sync.connection()))
            assert self._group is not None
            return await self._group.submit(work)
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
        if self.sync_write_engine is not None:
            await anyio.to_thread.run_sync(self.sync_write_engine.dispose)
        await self.write_engine.dispose()
        if self.read_engine is not self.write_engine:
            await self.read_engine.dispose()
