"""The worker loop keeps going when its queue's backend fails."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from sqlalchemy import select

from pixstash.db.engine import Database
from pixstash.db.models import JobRow
from pixstash.errors import DatabaseUnavailable, StorageUnavailable
from pixstash.jobs.base import Job
from pixstash.jobs.dbqueue import DbJobQueue
from pixstash.jobs.worker import JobRunner

pytestmark = pytest.mark.anyio


class FlakyQueue(DbJobQueue):
    """Fails the first ``complete`` and every heartbeat, like a database going away."""

    def __init__(self, db: Database) -> None:
        super().__init__(db, lease_seconds=30)
        self.complete_failures = 1
        self.heartbeats = 0

    async def complete(self, job: Job) -> None:
        if self.complete_failures:
            self.complete_failures -= 1
            raise DatabaseUnavailable("database went away")
        await super().complete(job)

    async def heartbeat(self, job: Job) -> None:
        self.heartbeats += 1
        raise DatabaseUnavailable("database went away")


async def test_worker_survives_backend_errors(db: Database) -> None:
    async with db.write() as session:
        for n in range(3):
            session.add(JobRow(kind="k", payload=json.dumps({"n": str(n)}), run_after=time.time()))
    queue = FlakyQueue(db)
    seen: list[str] = []
    all_done = asyncio.Event()

    async def handler(payload: dict[str, str]) -> None:
        await asyncio.sleep(0.05)  # long enough for a heartbeat to fire (and fail)
        seen.append(payload["n"])
        if len(set(seen)) == 3:
            all_done.set()

    runner = JobRunner(
        queue, {"k": handler}, concurrency=1, poll_seconds=0.01, heartbeat_seconds=0.01
    )
    await runner.start()
    try:
        await asyncio.wait_for(all_done.wait(), 10)
    finally:
        await runner.stop()
    assert sorted(set(seen)) == ["0", "1", "2"]
    assert queue.heartbeats > 0


async def test_an_outage_in_a_job_postpones_it_without_using_attempts(db: Database) -> None:
    """A handler that meets a storage outage more often than max_attempts still runs once
    the storage is back: outages are not the job's fault."""
    async with db.write() as session:
        session.add(JobRow(kind="k", payload="{}", run_after=time.time()))
    queue = DbJobQueue(db, lease_seconds=30, max_attempts=2)
    outages = 5
    done = asyncio.Event()

    async def handler(payload: dict[str, str]) -> None:
        nonlocal outages
        if outages:
            outages -= 1
            raise StorageUnavailable("S3 is down")
        done.set()

    runner = JobRunner(queue, {"k": handler}, concurrency=1, poll_seconds=0.01, outage_delay=0)
    await runner.start()
    try:
        await asyncio.wait_for(done.wait(), 10)
    finally:
        await runner.stop()
    async with db.read() as session:
        row = (await session.scalars(select(JobRow))).one_or_none()
    assert outages == 0
    assert row is None or row.state != "dead"
    stats = await queue.stats()
    assert stats["dead"] == 0


async def test_an_unconfirmed_outage_is_the_jobs_own_failure(db: Database) -> None:
    """backend-unavailable that the backends' checks do not confirm (no such table,
    access denied on one key) uses attempts and is dead-lettered in the end, instead of
    being postponed forever."""
    async with db.write() as session:
        session.add(JobRow(kind="k", payload="{}", run_after=time.time()))
    queue = DbJobQueue(db, lease_seconds=30, max_attempts=1)
    probed: list[bool] = []

    async def all_backends_answer() -> bool:
        probed.append(False)
        return False

    async def handler(payload: dict[str, str]) -> None:
        raise DatabaseUnavailable("no such table: images")

    runner = JobRunner(
        queue, {"k": handler}, concurrency=1, poll_seconds=0.01, outage_probe=all_backends_answer
    )
    job = await queue.claim()
    assert job is not None
    await runner.run_one(job)
    assert probed == [False]
    assert (await queue.stats())["dead"] == 1
