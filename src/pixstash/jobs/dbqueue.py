"""Jobs in the metadata database (``PIXSTASH_QUEUE_URL=db://``).

A claim is one ``UPDATE ... WHERE id = (SELECT ... LIMIT 1 FOR UPDATE SKIP LOCKED)
RETURNING``: atomic on SQLite (writers are serialised) and safe for many servers on
PostgreSQL. A lease that runs out (a crashed worker) makes the job claimable again;
on start-up, leases held by dead processes on this host are released at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import time
from collections.abc import Collection
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from pixstash.db.engine import Database
from pixstash.db.models import JobRow
from pixstash.jobs.base import Job

_BACKOFF_BASE = 2.0
_BACKOFF_CAP = 300.0


def _process_start_time(pid: int) -> str | None:
    """Start time of ``pid`` in clock ticks since boot, None if it is gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] in ("Z", "X"):
        return None
    return fields[19]


async def oldest_job_age(session: AsyncSession, states: Collection[str]) -> int:
    """Seconds since the oldest job in ``states`` was created (0 if there is none): how
    far behind the workers are, for the backlog alert."""
    oldest = (
        await session.execute(select(func.min(JobRow.created_at)).where(JobRow.state.in_(states)))
    ).scalar()
    if oldest is None:
        return 0
    return max(0, int((datetime.now(UTC) - oldest).total_seconds()))


def worker_identity() -> str:
    pid = os.getpid()
    return f"{socket.gethostname()}:{pid}:{_process_start_time(pid) or '0'}"


def _holder_alive(locked_by: str, host: str) -> bool:
    parts = locked_by.rsplit(":", 2)
    if len(parts) != 3 or parts[0] != host or not parts[1].isdigit():
        return True  # another host's worker: only its lease expiry can tell
    return _process_start_time(int(parts[1])) == parts[2]


class DbJobQueue:
    def __init__(
        self,
        db: Database,
        *,
        lease_seconds: float = 60.0,
        max_attempts: int = 5,
        identity: str | None = None,
    ) -> None:
        self.db = db
        self.lease_seconds = lease_seconds
        self.max_attempts = max_attempts
        self.identity = identity or worker_identity()
        self._wakeup = asyncio.Event()

    @classmethod
    def from_url(
        cls, url: str, *, db: Database, lease_seconds: float, max_attempts: int
    ) -> DbJobQueue:
        return cls(db, lease_seconds=lease_seconds, max_attempts=max_attempts)

    async def claim(self) -> Job | None:
        now = time.time()
        free = (JobRow.lease_until.is_(None)) | (JobRow.lease_until < now)
        # A job whose every attempt ended with its worker dying (a poison image that
        # crashes the process) never reached fail(): dead-letter it here instead.
        exhausted = (
            update(JobRow)
            .where(
                JobRow.state == "pending",
                (JobRow.attempts >= JobRow.max_attempts) | (JobRow.attempts >= self.max_attempts),
                free,
            )
            .values(state="dead", last_error="attempts exhausted: the worker died each time")
        )
        due = (
            select(JobRow.id)
            .where(
                JobRow.state == "pending",
                JobRow.run_after <= now,
                free,
            )
            .order_by(JobRow.run_after, JobRow.id)
            .limit(1)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        stmt = (
            update(JobRow)
            .where(JobRow.id == due)
            .values(
                attempts=JobRow.attempts + 1,
                lease_until=now + self.lease_seconds,
                locked_by=self.identity,
            )
            .returning(JobRow.id, JobRow.kind, JobRow.payload, JobRow.attempts, JobRow.max_attempts)
        )
        async with self.db.write() as session:
            await session.execute(exhausted)
            row = (await session.execute(stmt)).first()
        if row is None:
            return None
        return Job(row.id, row.kind, json.loads(row.payload), row.attempts, row.max_attempts)

    async def heartbeat(self, job: Job) -> None:
        async with self.db.write() as session:
            await session.execute(
                update(JobRow)
                .where(JobRow.id == job.id, JobRow.locked_by == self.identity)
                .values(lease_until=time.time() + self.lease_seconds)
            )

    async def complete(self, job: Job) -> None:
        async with self.db.write() as session:
            row = await session.get(JobRow, job.id)
            if row is not None:
                await session.delete(row)

    async def fail(self, job: Job, error: str) -> bool:
        dead = job.attempts >= min(job.max_attempts, self.max_attempts)
        delay = min(_BACKOFF_CAP, _BACKOFF_BASE**job.attempts)
        async with self.db.write() as session:
            await session.execute(
                update(JobRow)
                .where(JobRow.id == job.id, JobRow.locked_by == self.identity)
                .values(
                    state="dead" if dead else "pending",
                    run_after=time.time() + delay,
                    lease_until=None,
                    locked_by=None,
                    last_error=error[:2000].replace("\x00", ""),  # PostgreSQL text
                )
            )
        return not dead

    async def postpone(self, job: Job, error: str, delay: float) -> None:
        async with self.db.write() as session:
            await session.execute(
                update(JobRow)
                .where(JobRow.id == job.id, JobRow.locked_by == self.identity)
                .values(
                    state="pending",
                    attempts=JobRow.attempts - 1,
                    run_after=time.time() + delay,
                    lease_until=None,
                    locked_by=None,
                    last_error=error[:2000].replace("\x00", ""),
                )
            )

    def notify(self) -> None:
        self._wakeup.set()

    async def wait(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wakeup.wait(), seconds)
        self._wakeup.clear()

    async def recover(self) -> int:
        host = self.identity.rsplit(":", 2)[0]
        now = time.time()
        async with self.db.write() as session:
            leased = (
                await session.execute(
                    select(JobRow.id, JobRow.locked_by).where(
                        JobRow.state == "pending", JobRow.lease_until > now
                    )
                )
            ).all()
            dead = [
                job_id
                for job_id, holder in leased
                if holder and holder != self.identity and not _holder_alive(holder, host)
            ]
            if dead:
                await session.execute(
                    update(JobRow)
                    .where(JobRow.id.in_(dead))
                    .values(lease_until=None, locked_by=None)
                )
        return len(dead)

    async def stats(self) -> dict[str, int]:
        async with self.db.read() as session:
            rows = (
                await session.execute(select(JobRow.state, func.count()).group_by(JobRow.state))
            ).all()
            oldest = await oldest_job_age(session, ["pending"])
        counts = {"pending": 0, "dead": 0}
        counts.update({state: int(n) for state, n in rows})
        counts["oldest_pending_seconds"] = oldest
        return counts

    async def check(self) -> None:
        await self.db.ping()

    async def close(self) -> None:
        return None
