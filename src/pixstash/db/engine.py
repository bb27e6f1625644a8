"""Engines for the metadata database.

SQLite runs in WAL mode with a busy timeout. Write transactions start with
``BEGIN IMMEDIATE`` so two writers never deadlock upgrading a read lock; reads use a
second engine with plain deferred transactions so they never wait for writers. Writers
of one process queue on a lock, and hot-path writes share commits (``batching.py``).

PostgreSQL (psycopg 3, async) has row locks and many writers at once: one pooled engine
serves reads and writes, with no process-wide write lock, and every write transaction
is its own (READ COMMITTED; the statements lock the rows they change).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import anyio.to_thread
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from pixstash.db.batching import GroupCommitter
from pixstash.errors import ConfigurationError, DatabaseUnavailable

SCHEMES = ("sqlite", "postgresql")
# libpq waits for a connection forever by default (or for the OS's SYN retries, minutes):
# an unreachable PostgreSQL would hang requests instead of answering 503. A
# ``connect_timeout`` in the URL wins.
PG_CONNECT_TIMEOUT = 5
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
            connect_args = (
                {}
                if "connect_timeout" in self.url.query
                else {"connect_timeout": PG_CONNECT_TIMEOUT}
            )
            engine = create_async_engine(
                self.url,
                pool_pre_ping=True,
                pool_size=10,
                max_overflow=10,
                connect_args=connect_args,
            )
            self.write_engine = self.read_engine = engine
            self.sync_write_engine = None
        # SQLite: in-process writers queue here (fairly) instead of sleep-polling its lock.
        self._write_lock: asyncio.Lock | None = asyncio.Lock() if self.is_sqlite else None
        self._group = (
            GroupCommitter(self.sync_write_engine, self._write_lock)
            if self.sync_write_engine is not None and self._write_lock is not None
            else None
        )
        self._write = async_sessionmaker(self.write_engine, expire_on_commit=False)
        self._read = async_sessionmaker(self.read_engine, expire_on_commit=False)

    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """A transaction that commits on success and rolls back on error."""
        queue = self._write_lock or contextlib.nullcontext()
        with _outage_is_unavailable():
            async with queue, self._write() as session, session.begin():
                yield session

    async def run_write(self, work: Callable[[Connection], T]) -> T:
        """Run ``work`` in a write transaction and return its result once committed.

        ``work`` gets a synchronous Connection and must not await. On SQLite, concurrent
        calls share one transaction and one COMMIT (group commit, each in its own
        savepoint), run whole in one worker thread, so ``work`` may run beside other work.
        On PostgreSQL each call is its own transaction on the async driver (``run_sync``
        runs ``work`` in a greenlet; no thread hop). Either way a caller cancelled while
        its transaction is under way waits until it has committed or rolled back, so its
        clean-up sees what really happened."""
        with _outage_is_unavailable():
            if self._group is not None:
                return await self._group.submit(work)
            return await _settle_before_cancelling(self._transaction(work))

    async def _transaction(self, work: Callable[[Connection], T]) -> T:
        async with self.write_engine.begin() as conn:
            return await conn.run_sync(work)

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        with _outage_is_unavailable():
            async with self._read() as session, session.begin():
                yield session

    async def ping(self) -> None:
        async with self.read() as session:
            await session.execute(text("SELECT 1"))

    async def close(self) -> None:
        if self.sync_write_engine is not None:
            await anyio.to_thread.run_sync(self.sync_write_engine.dispose)
        await self.write_engine.dispose()
        if self.read_engine is not self.write_engine:
            await self.read_engine.dispose()


async def _settle_before_cancelling(transaction: Coroutine[Any, Any, T]) -> T:
    """Await ``transaction`` in its own task; if the caller is cancelled meanwhile, let
    the transaction finish (commit or roll back) first, then raise CancelledError."""
    task = asyncio.ensure_future(transaction)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        await asyncio.wait([task])
        if not task.cancelled():
            task.exception()  # retrieved: the caller hears of the cancellation only
        raise


@contextlib.contextmanager
def _outage_is_unavailable() -> Iterator[None]:
    """The database is unreachable, lost the connection, or is out of space or locks
    (OperationalError: retry later, 503); other driver errors are bugs and stay so."""
    try:
        yield
    except DBAPIError as exc:
        if isinstance(exc, OperationalError) or exc.connection_invalidated:
            raise DatabaseUnavailable(f"Database error: {exc.orig}") from exc
        raise
