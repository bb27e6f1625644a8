"""Shared fixtures: settings on a temp directory, the app with its lifespan, a client."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from pixstash.config import Settings
from pixstash.db.engine import Database
from pixstash.db.migrate import upgrade


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        environment="test",
        database_url=f"sqlite:///{tmp_path}/pixstash.db",
        storage_url=f"file://{tmp_path}/blobs",
        tmp_dir=str(tmp_path / "tmp"),
        job_workers=0,  # tests run jobs explicitly unless they ask for workers
        job_poll_seconds=0.05,
    )


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    """A migrated SQLite metadata database of its own."""
    url = f"sqlite:///{tmp_path}/jobs.db"
    upgrade(url)
    database = Database(url)
    yield database
    await database.close()


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    from pixstash.web.app import create_app

    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"
