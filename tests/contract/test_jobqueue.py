"""The JobQueue contract, run against db:// on SQLite."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
from sqlalchemy import select

from pixstash.db.engine import Database
from pixstash.db.models import JobRow
from pixstash.jobs.base import JobQueue
from pixstash.jobs.dbqueue import DbJobQueue, worker_identity

pytestmark = pytest.mark.anyio


@pytest.fixture
def queue(db: Database) -> JobQueue:
    return DbJobQueue(db, lease_seconds=30, max_attempts=3)


async def add_job(db: Database, kind: str = "k", n: int = 1, **fields: object) -> None:
    async with db.write() as session:
        for i in range(n):
            session.add(
                JobRow(
                    kind=kind, payload=json.dumps({"n": str(i)}), run_after=time.time(), **fields
                )
            )


async def test_claim_returns_each_job_once(db: Database, queue: JobQueue) -> None:
    await add_job(db, n=3)
    claimed = [await queue.claim() for _ in range(4)]
    jobs = [j for j in claimed if j is not None]
    assert len(jobs) == 3
    assert claimed[3] is None
    assert sorted(j.payload["n"] for j in jobs) == ["0", "1", "2"]
    assert all(j.attempts == 1 for j in jobs)


async def test_complete_removes_the_job(db: Database, queue: JobQueue) -> None:
    await add_job(db)
    job = await queue.claim()
    assert job is not None
    await queue.complete(job)
    assert await queue.stats() == {"pending": 0, "dead": 0}


async def test_fail_retries_with_backoff_then_dead_letters(db: Database, queue: JobQueue) -> None:
    await add_job(db)
    for attempt in (1, 2):
        job = await queue.claim()
        assert job is not None
        assert job.attempts == attempt
        assert await queue.fail(job, "boom") is True
        assert await queue.claim() is None  # backoff: not due yet
        async with db.write() as session:  # let time pass
            row = (await session.scalars(select(JobRow))).one()
            assert row.run_after > time.time()
            row.run_after = time.time() - 1
    job = await queue.claim()
    assert job is not None
    assert await queue.fail(job, "boom") is False
    assert await queue.stats() == {"pending": 0, "dead": 1}
    assert await queue.claim() is None


async def test_expired_lease_makes_a_job_claimable_again(db: Database) -> None:
    first = DbJobQueue(db, lease_seconds=30, identity="other-host:1:1")
    second = DbJobQueue(db, lease_seconds=30)
    await add_job(db)
    assert await first.claim() is not None
    assert await second.claim() is None  # leased
    async with db.write() as session:
        row = (await session.scalars(select(JobRow))).one()
        row.lease_until = time.time() - 1
    again = await second.claim()
    assert again is not None
    assert again.attempts == 2


async def test_recover_releases_leases_of_dead_local_processes(db: Database) -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    host = worker_identity().rsplit(":", 2)[0]
    dead = DbJobQueue(db, identity=f"{host}:{child.pid}:1")
    alive = DbJobQueue(db, identity=f"{host}:{os.getpid()}:{worker_identity().rsplit(':', 1)[1]}")
    remote = DbJobQueue(db, identity="elsewhere:1:1")
    await add_job(db, n=3)
    for holder in (dead, alive, remote):
        assert await holder.claim() is not None
    me = DbJobQueue(db)
    assert await me.recover() == 1
    released = await me.claim()
    assert released is not None
    assert await me.claim() is None


async def test_notify_wakes_a_waiter(queue: JobQueue) -> None:
    queue.notify()
    started = time.monotonic()
    await queue.wait(10)
    assert time.monotonic() - started < 5


async def test_a_job_whose_worker_keeps_dying_is_dead_lettered(db: Database) -> None:
    await add_job(db)
    for attempt in (1, 2, 3):  # each worker "dies": its lease simply runs out
        crashed = DbJobQueue(db, lease_seconds=30, max_attempts=3, identity=f"h:{attempt}:1")
        job = await crashed.claim()
        assert job is not None
        assert job.attempts == attempt
        async with db.write() as session:
            row = (await session.scalars(select(JobRow))).one()
            row.lease_until = time.time() - 1
    survivor = DbJobQueue(db, max_attempts=3)
    assert await survivor.claim() is None
    assert await survivor.stats() == {"pending": 0, "dead": 1}


async def test_a_worker_whose_lease_was_taken_cannot_reset_the_job(db: Database) -> None:
    slow = DbJobQueue(db, lease_seconds=30, identity="slow:1:1")
    fast = DbJobQueue(db, lease_seconds=30, identity="fast:1:1")
    await add_job(db)
    stale = await slow.claim()
    assert stale is not None
    async with db.write() as session:
        (await session.scalars(select(JobRow))).one().lease_until = time.time() - 1
    assert await fast.claim() is not None
    await slow.fail(stale, "late failure")  # must not release fast's lease
    assert await DbJobQueue(db).claim() is None
