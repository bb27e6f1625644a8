"""JobRunner records each run's outcome and runs it with the upload's request id bound."""

from __future__ import annotations

import json
import logging

import pytest
from sqlalchemy import update

from pixstash.db.engine import Database
from pixstash.db.models import JobRow
from pixstash.errors import StorageUnavailable
from pixstash.jobs.dbqueue import DbJobQueue
from pixstash.jobs.worker import JobRunner
from pixstash.telemetry.base import InMemoryMetrics
from pixstash.telemetry.context import current_request_id
from tests.contract.test_jobqueue import add_job

pytestmark = [pytest.mark.anyio, pytest.mark.db_backends("sqlite")]


async def run_all(queue: DbJobQueue, runner: JobRunner) -> None:
    while (job := await queue.claim()) is not None:
        await runner.run_one(job)


async def test_outcomes_are_counted(db: Database) -> None:
    queue = DbJobQueue(db, max_attempts=2)
    metrics = InMemoryMetrics()
    calls: dict[str, int] = {"bad": 0}

    async def good(payload: dict[str, str]) -> None:
        assert metrics.running == 1

    async def bad(payload: dict[str, str]) -> None:
        calls["bad"] += 1
        raise ValueError("broken image")

    async def outage(payload: dict[str, str]) -> None:
        raise StorageUnavailable()

    runner = JobRunner(
        queue, {"good": good, "bad": bad, "outage": outage}, concurrency=1, metrics=metrics
    )
    await add_job(db, "good")
    await add_job(db, "bad")
    await add_job(db, "outage")
    await run_all(queue, runner)
    async with db.write() as session:  # retries and postponed jobs are due now
        await session.execute(update(JobRow).values(run_after=0))
    job = await queue.claim()
    while job is not None and job.kind != "bad":
        job = await queue.claim()
    assert job is not None
    await runner.run_one(job)

    assert metrics.running == 0
    assert metrics.events["job", "completed"] == 1
    assert metrics.events["job", "failed"] == 1
    assert metrics.events["job", "dead_lettered"] == 1
    assert metrics.events["job", "postponed"] == 1
    assert metrics.events["backend", "storage"] == 1


async def test_the_request_id_of_the_payload_is_bound_while_the_job_runs(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    queue = DbJobQueue(db)
    seen: list[str | None] = []

    async def handler(payload: dict[str, str]) -> None:
        seen.append(current_request_id())

    runner = JobRunner(queue, {"k": handler}, concurrency=1)
    async with db.write() as session:
        session.add(
            JobRow(kind="k", payload=json.dumps({"hash": "h", "request_id": "rid-1"}), run_after=0)
        )
    with caplog.at_level(logging.INFO, logger="pixstash.jobs"):
        await run_all(queue, runner)
    assert seen == ["rid-1"]
    assert current_request_id() is None  # unbound after the job
