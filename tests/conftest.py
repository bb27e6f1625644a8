"""Shared fixtures: settings on a temp directory, the app with its lifespan, a client.

Every test that uses ``database_url`` (and so ``settings``, ``db``, ``app``, ``client``)
runs once per metadata backend: SQLite in a file of its own, and PostgreSQL in a
throwaway database made for the test run (emptied before each test). Mark a test
``@pytest.mark.db_backends("sqlite")`` when what it checks exists on one backend only.

The PostgreSQL server and its throwaway databases: tests/pgserver.py.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from pixstash.config import Settings
from pixstash.db.engine import Database
from pixstash.db.migrate import upgrade
from tests.clamd import ClamdServer
from tests.pgserver import MigratedDatabase, PostgresServer

BACKENDS = ("sqlite", "postgresql")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "db_backends(*names): run only on these metadata backends (sqlite, postgresql)"
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "db_backend" not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker("db_backends")
    names = marker.args if marker is not None else BACKENDS
    unknown = set(names) - set(BACKENDS)
    if unknown:
        raise pytest.UsageError(f"unknown backends {sorted(unknown)}; valid: {BACKENDS}")
    metafunc.parametrize("db_backend", names, indirect=True)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def db_backend(request: pytest.FixtureRequest) -> str:
    """The metadata backend of this test run (set by ``pytest_generate_tests``)."""
    name: str = request.param
    return name


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    server = PostgresServer()
    server.check()
    yield server
    server.drop_all()


@pytest.fixture(scope="session")
def clamd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClamdServer]:
    """A real clamd with the test signatures (tests/clamd.py), shared by the session."""
    server = ClamdServer(tmp_path_factory.mktemp("clamd"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def migrated_postgres(postgres: PostgresServer) -> Iterator[MigratedDatabase]:
    url = postgres.create("test")
    upgrade(url)
    database = MigratedDatabase(url)
    yield database
    database.close()


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file that tests copy (faster than migrating each time)."""
    path = tmp_path_factory.mktemp("sqlite-template") / "migrated.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def database_url(db_backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty metadata database for this test."""
    if db_backend == "sqlite":
        path = tmp_path / "pixstash.db"
        shutil.copyfile(request.getfixturevalue("migrated_sqlite"), path)
        return f"sqlite:///{path}"
    migrated: MigratedDatabase = request.getfixturevalue("migrated_postgres")
    migrated.empty()
    return migrated.url


@pytest.fixture
def fresh_database_url(
    db_backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> Callable[[], str]:
    """Makes new, empty (unmigrated) databases, for tests of the migrations themselves."""
    if db_backend == "sqlite":
        counter = iter(range(1_000_000))
        return lambda: f"sqlite:///{tmp_path}/fresh{next(counter)}.db"
    server: PostgresServer = request.getfixturevalue("postgres")
    return lambda: server.create("migration")


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(
        environment="test",
        database_url=database_url,
        storage_url=f"file://{tmp_path}/blobs",
        tmp_dir=str(tmp_path / "tmp"),
        job_workers=0,  # tests run jobs explicitly unless they ask for workers
        job_poll_seconds=0.05,
    )


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    """A migrated metadata database of its own."""
    database = Database(database_url)
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
