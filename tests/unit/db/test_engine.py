"""Database: what writes promise on every backend (SQLite's group commit: test_batching.py)."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest
from sqlalchemy import Connection, func, select, text, update

from pixstash.db import engine
from pixstash.db.engine import Database
from pixstash.db.models import JobRow
from pixstash.errors import DatabaseUnavailable
from tests.unit.db.writes import add_job, job_kinds

pytestmark = pytest.mark.anyio


async def test_run_write_returns_once_committed(db: Database) -> None:
    assert await db.run_write(add_job("a")) == "a"
    other = Database(db.url.render_as_string(hide_password=False))
    try:
        assert await job_kinds(other) == ["a"]  # visible to every connection
    finally:
        await other.close()


async def test_failing_work_leaves_nothing_and_others_commit(db: Database) -> None:
    results = await asyncio.gather(
        db.run_write(add_job("a")),
        db.run_write(add_job("b", fail=True)),
        db.run_write(add_job("c")),
        return_exceptions=True,
    )
    assert results[0] == "a"
    assert isinstance(results[1], ValueError)
    assert results[2] == "c"
    assert await job_kinds(db) == ["a", "c"]


async def test_many_concurrent_writers_all_commit(db: Database) -> None:
    kinds = [f"k{n:02}" for n in range(40)]
    assert await asyncio.gather(*(db.run_write(add_job(k)) for k in kinds)) == kinds
    async with db.read() as session:
        assert await session.scalar(select(func.count()).select_from(JobRow)) == 40


@pytest.mark.db_backends("postgresql")
async def test_a_write_cancelled_while_it_waits_settles_before_cancelling(db: Database) -> None:
    """The caller's clean-up must see what really happened to its transaction: on
    PostgreSQL, a cancelled ``run_write`` lets its transaction finish first."""
    await db.run_write(add_job("locked"))
    holder = Database(db.url.render_as_string(hide_password=False))
    try:
        async with holder.write() as session:
            await session.execute(select(JobRow).with_for_update())  # row lock held

            def take_over(conn: Connection) -> None:
                conn.execute(update(JobRow).values(locked_by="writer"))

            write = asyncio.create_task(db.run_write(take_over))
            await wait_until_a_backend_waits_for_a_lock(holder)
            write.cancel()
            for _ in range(20):  # the loop runs on; the cancelled write keeps waiting
                await asyncio.sleep(0)
            assert not write.done()
        # the lock is released: the write commits, then its caller is cancelled
        with pytest.raises(asyncio.CancelledError):
            await write
    finally:
        await holder.close()
    async with db.read() as session:
        assert await session.scalar(select(JobRow.locked_by)) == "writer"


async def wait_until_a_backend_waits_for_a_lock(observer: Database) -> None:
    deadline = time.monotonic() + 10
    query = text(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    while time.monotonic() < deadline:
        async with observer.read_engine.connect() as conn:
            if await conn.scalar(query):
                return
        await asyncio.sleep(0.01)  # polling a condition, not timing a race
    raise AssertionError("the write never waited for the row lock")


async def test_an_unreachable_postgresql_is_unavailable() -> None:
    db = Database("postgresql+psycopg://pixstash@127.0.0.1:9/nowhere?connect_timeout=2")
    try:
        with pytest.raises(DatabaseUnavailable):
            await db.run_write(add_job("a"))
        with pytest.raises(DatabaseUnavailable):
            async with db.write() as session:
                await session.execute(text("SELECT 1"))
        with pytest.raises(DatabaseUnavailable):
            await db.ping()
    finally:
        await db.close()


async def test_a_postgresql_that_never_answers_is_unavailable_after_a_connect_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without ``connect_timeout`` in the URL libpq would wait forever: requests would hang
    instead of answering 503."""
    monkeypatch.setattr(engine, "PG_CONNECT_TIMEOUT", 2)  # libpq's minimum
    with socket.create_server(("127.0.0.1", 0)) as silent:  # the kernel accepts; no reply
        db = Database(f"postgresql+psycopg://pixstash@127.0.0.1:{silent.getsockname()[1]}/db")
        try:
            started = time.monotonic()
            with pytest.raises(DatabaseUnavailable, match="timeout"):
                await db.ping()
            assert time.monotonic() - started < 10
        finally:
            await db.close()
