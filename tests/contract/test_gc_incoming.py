"""``pixstash gc`` expires abandoned direct uploads (``incoming/``) on every blob store.

Only local files can be backdated; for the others the service's clock moves forward.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pixstash.config import Settings
from pixstash.wiring import Container, build_container
from tests.s3server import S3Endpoint

pytestmark = [pytest.mark.anyio, pytest.mark.db_backends("sqlite")]


@pytest.fixture(params=["local", "memory", "s3"])
async def container(
    request: pytest.FixtureRequest, settings: Settings, tmp_path: Path
) -> AsyncIterator[Container]:
    url = f"file://{tmp_path}/blobs"
    if request.param == "memory":
        url = "memory://"
    elif request.param == "s3":
        s3: S3Endpoint = request.getfixturevalue("s3_endpoint")
        url = s3.storage_url(s3.new_bucket(), "pixstash")
    built = build_container(settings.model_copy(update={"storage_url": url}))
    yield built
    await built.close()


async def test_gc_expires_incoming_after_its_own_grace(container: Container) -> None:
    store, maintenance = container.store, container.maintenance
    await store.put_bytes("incoming/upload-1.jpg", b"12345")
    await store.put_bytes("incomingx/not-ours.jpg", b"1")  # shares only the letters
    start = datetime.now(UTC)

    maintenance.clock = lambda: start + timedelta(hours=2)  # past the orphan grace only
    report = await maintenance.collect_garbage(grace_seconds=3600)
    assert report.incoming_objects == 0
    assert report.orphan_objects == 1  # incomingx/ is an ordinary orphan
    assert await store.stat("incoming/upload-1.jpg") is not None

    maintenance.clock = lambda: start + timedelta(days=1, minutes=1)
    dry = await maintenance.collect_garbage(grace_seconds=3600, dry_run=True)
    assert (dry.incoming_objects, dry.incoming_bytes) == (1, 5)
    assert await store.stat("incoming/upload-1.jpg") is not None
    report = await maintenance.collect_garbage(grace_seconds=3600)
    assert (report.incoming_objects, report.incoming_bytes) == (1, 5)
    assert await store.stat("incoming/upload-1.jpg") is None


async def test_incoming_grace_is_configurable(container: Container) -> None:
    await container.store.put_bytes("incoming/a/b.png", b"xy")
    report = await container.maintenance.collect_garbage(
        grace_seconds=3600, incoming_grace_seconds=0
    )
    assert report.incoming_objects == 1
    assert [o async for o in container.store.iter_objects()] == []
