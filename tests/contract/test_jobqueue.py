"""The JobQueue contract, run against db:// and amqp:// (outbox on SQLite and PostgreSQL).

The lease tests below the contract are about db:// only; amqp:// specifics live in
test_amqp.py.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from sqlalchemy import select, update

from pixstash.db.engine import Database
from pixstash.db.models import JobRow
from pixstash.jobs.amqp import AmqpJobQueue
from pixstash.jobs.base import Job, JobQueue
from pixstash.jobs.dbqueue import DbJobQueue, worker_identity
from tests import rabbitmq

pytestmark = pytest.mark.anyio

RETRY_SECONDS = 1.0  # amqp:// backoff in these tests: short, yet longer than a claim


@pytest.fixture(params=["db", "amqp"])
async def queue(request: pytest.FixtureRequest, db: Database) -> AsyncIterator[JobQueue]:
    if request.param == "db":
        yield DbJobQueue(db, lease_seconds=30, max_attempts=3)
        return
    rabbitmq.require_broker()
    url = rabbitmq.queue_url(prefetch=10, retry_delays=RETRY_SECONDS)
    amqp = AmqpJobQueue.from_url(url, db=db, lease_seconds=30, max_attempts=3)
    try:
        yield amqp
    finally:
        await amqp.close()
        await rabbitmq.delete_queues(amqp.queue_names)


@pytest.fixture
def let_backoff_pass(db: Database, queue: JobQueue) -> Callable[[], Awaitable[None]]:
    """db:// moves the retry time into the past; amqp:// retries after its (short) TTL."""

    async def due_now() -> None:
        if isinstance(queue, DbJobQueue):
            async with db.write() as session:
                row = (await session.scalars(select(JobRow))).one()
                assert row.run_after > time.time()
                row.run_after = time.time() - 1

    return due_now


async def claim_within(queue: JobQueue, seconds: float) -> Job:
    """Claim, waiting (woken by the queue) until a job is due or ``seconds`` pass."""
    deadline = time.monotonic() + seconds
    while (job := await queue.claim()) is None:
        assert time.monotonic() < deadline, "no job became due in time"
        await queue.wait(0.1)
    return job


def pending_and_dead(stats: dict[str, int]) -> dict[str, int]:
    return {"pending": stats["pending"], "dead": stats["dead"]}


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
    assert pending_and_dead(await queue.stats()) == {"pending": 1, "dead": 0}
    await queue.complete(job)
    assert pending_and_dead(await queue.stats()) == {"pending": 0, "dead": 0}
    assert await queue.claim() is None


async def test_fail_retries_with_backoff_then_dead_letters(
    db: Database, queue: JobQueue, let_backoff_pass: Callable[[], Awaitable[None]]
) -> None:
    await add_job(db)
    job = await queue.claim()
    for attempt in (1, 2):
        assert job is not None
        assert job.attempts == attempt
        assert await queue.fail(job, "boom") is True
        assert await queue.claim() is None  # backoff: not due yet
        await let_backoff_pass()
        job = await claim_within(queue, 10)
    assert job.attempts == 3
    assert await queue.fail(job, "boom") is False
    assert pending_and_dead(await queue.stats()) == {"pending": 0, "dead": 1}
    assert await queue.claim() is None


async def test_postpone_uses_no_attempt_however_often(
    db: Database, queue: JobQueue, let_backoff_pass: Callable[[], Awaitable[None]]
) -> None:
    """An outage postpones a job as often as it lasts; it is never dead-lettered for it."""
    await add_job(db)
    job = await queue.claim()
    for _ in range(4):  # more than max_attempts (3)
        assert job is not None
        assert job.attempts == 1
        await queue.postpone(job, "StorageUnavailable: S3 is down", RETRY_SECONDS)
        assert await queue.claim() is None  # not due yet
        await let_backoff_pass()
        job = await claim_within(queue, 10)
    assert job.attempts == 1
    assert pending_and_dead(await queue.stats()) == {"pending": 1, "dead": 0}
    await queue.complete(job)
    assert pending_and_dead(await queue.stats()) == {"pending": 0, "dead": 0}


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
    assert pending_and_dead(await survivor.stats()) == {"pending": 0, "dead": 1}


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


async def claim_all(queue: JobQueue) -> list[Job]:
    claimed = []
    while (job := await queue.claim()) is not None:
        claimed.append(job)
    return claimed


async def test_two_servers_never_claim_the_same_job(db: Database) -> None:
    await add_job(db, n=50)
    other_server = Database(db.url.render_as_string(hide_password=False))
    try:
        first = DbJobQueue(db, identity="one:1:1")
        second = DbJobQueue(other_server, identity="two:1:1")
        mine, theirs = await asyncio.gather(claim_all(first), claim_all(second))
    finally:
        await other_server.close()
    ids = [job.id for job in [*mine, *theirs]]
    assert len(ids) == len(set(ids)) == 50  # each job claimed once, by one of them
    assert {job.id for job in mine}.isdisjoint(job.id for job in theirs)
    async with db.read() as session:
        holders = dict((await session.execute(select(JobRow.id, JobRow.locked_by))).all())
    assert {holders[job.id] for job in mine} <= {"one:1:1"}
    assert {holders[job.id] for job in theirs} <= {"two:1:1"}


@pytest.mark.db_backends("postgresql")  # SQLite has one writer at a time: nothing to skip
async def test_a_claim_skips_a_job_another_claimer_has_locked(db: Database) -> None:
    await add_job(db, n=2)
    queue = DbJobQueue(db)
    other_server = Database(db.url.render_as_string(hide_password=False))
    try:
        async with other_server.write() as session:  # mid-claim: the first job is locked
            first = await session.scalar(
                select(JobRow.id).order_by(JobRow.id).limit(1).with_for_update()
            )
            # no waiting for the lock: the claim takes the next job at once
            job = await asyncio.wait_for(queue.claim(), 10)
            assert job is not None
            assert job.id != first
            assert await asyncio.wait_for(queue.claim(), 10) is None
            await session.execute(update(JobRow).where(JobRow.id == first).values(kind="kept"))
    finally:
        await other_server.close()
    released = await queue.claim()
    assert released is not None
    assert released.id == first
    assert released.kind == "kept"
