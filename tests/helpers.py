"""Test helpers that drive a wired container directly."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from fastapi import FastAPI

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


def snapshot(root: Path, database: Path) -> tuple[list[str], dict[str, int]]:
    """Every file under ``root`` (except the database) and every table's row count."""
    files = sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and not p.name.startswith("pixstash.db")
    )
    with sqlite3.connect(database) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        counts = {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in tables}
    return files, counts
