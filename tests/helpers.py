"""Test helpers that drive a wired container directly."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fastapi import FastAPI
from sqlalchemy import Engine, create_engine, func, select

from pixstash.db.engine import sync_url
from pixstash.db.models import Base
from pixstash.wiring import Container


def container_of(app: FastAPI) -> Container:
    container: Container = app.state.container
    return container


async def drain_jobs(container: Container) -> int:
    """Run every due job in this task, as an in-server worker would; returns how many."""
    runner = container.make_runner(1)
    done = 0
    while (job := await container.queue.claim()) is not None:
        await runner.run_one(job)
        done += 1
    return done


def snapshot(root: Path, database_url: str) -> tuple[list[str], dict[str, int]]:
    """Every file under ``root`` (except a SQLite database) and every table's row count."""
    files = sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and not p.name.startswith("pixstash.db")
    )
    with sync_engine(database_url) as engine, engine.connect() as conn:
        counts = {
            table.name: conn.scalar(select(func.count()).select_from(table)) or 0
            for table in Base.metadata.sorted_tables
        }
    return files, counts


@contextmanager
def sync_engine(database_url: str) -> Iterator[Engine]:
    """A short-lived synchronous engine on a test database, to look from outside."""
    engine = create_engine(sync_url(database_url))
    try:
        yield engine
    finally:
        engine.dispose()
