"""Group commit (SQLite): concurrent writes share one COMMIT, and one failure stays its own.

What ``run_write`` promises on every backend is in test_engine.py."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import Connection, func, select

from pixstash.db.engine import Database
from pixstash.db.models import JobRow
from pixstash.errors import DatabaseUnavailable
from tests.unit.db.writes import add_job

pytestmark = [pytest.mark.anyio, pytest.mark.db_backends("sqlite")]


async def test_concurrent_writes_share_a_commit_and_fail_alone(db: Database) -> None:
    results = await asyncio.gather(
        db.run_write(add_job("a")),
        db.run_write(add_job("b", fail=True)),
        db.run_write(add_job("c")),
        return_exceptions=True,
    )
    assert results[0] == "a"
    assert isinstance(results[1], ValueError)
    assert results[2] == "c"
    assert db._group is not None
    assert db._group.batches == 1
    async with db.read() as session:
        kinds = (await session.scalars(select(JobRow.kind).order_by(JobRow.kind))).all()
    assert kinds == ["a", "c"]  # b's row went with its savepoint


async def test_sequential_writes_each_commit(db: Database) -> None:
    for n in range(3):
        assert await db.run_write(add_job(f"k{n}")) == f"k{n}"
    async with db.read() as session:
        assert await session.scalar(select(func.count()).select_from(JobRow)) == 3


async def test_a_batch_sqlite_rolled_back_whole_fails_whole(db: Database) -> None:
    def fill_the_disk(conn: Connection) -> str:
        pages = conn.exec_driver_sql("PRAGMA page_count").scalar()
        conn.exec_driver_sql(f"PRAGMA max_page_count={int(pages or 0) + 2}")
        conn.exec_driver_sql(
            "INSERT INTO jobs (kind, payload, state, attempts, max_attempts, run_after, "
            "created_at) VALUES ('big', randomblob(1000000), 'pending', 0, 5, 0, '2026')"
        )
        return "big"

    results = await asyncio.gather(
        db.run_write(add_job("a")),
        db.run_write(fill_the_disk),
        db.run_write(add_job("c")),
        return_exceptions=True,
    )
    assert all(isinstance(r, DatabaseUnavailable) for r in results), results
    async with db.read() as session:
        assert await session.scalar(select(func.count()).select_from(JobRow)) == 0
