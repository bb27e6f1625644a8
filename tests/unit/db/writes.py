"""Small write transactions for the Database tests (test_engine.py, test_batching.py)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import Connection, insert, select

from pixstash.db.engine import Database
from pixstash.db.models import JobRow


def add_job(kind: str, *, fail: bool = False) -> Callable[[Connection], str]:
    def work(conn: Connection) -> str:
        conn.execute(
            insert(JobRow).values(
                kind=kind,
                payload=json.dumps({}),
                state="pending",
                attempts=0,
                max_attempts=5,
                run_after=time.time(),
                created_at=datetime.now(UTC),
            )
        )
        if fail:
            raise ValueError(f"{kind} failed after writing")
        return kind

    return work


async def job_kinds(db: Database) -> list[str]:
    async with db.read() as session:
        return list((await session.scalars(select(JobRow.kind).order_by(JobRow.kind))).all())
