"""``pixstash gc`` expires abandoned direct uploads (``incoming/``) on every blob store,
keeps those that can still be completed, and forgets upload sessions that are over.

Only local files can be backdated; for the others the service's clock moves forward.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from pixstash.config import Settings
from pixstash.db.base import UploadState
from pixstash.errors import UploadNotFound
from pixstash.wiring import Container, build_container
from tests import imagegen
from tests.s3server import S3Endpoint

pytestmark = pytest.mark.anyio
DAY = timedelta(days=1)
MINUTE = timedelta(minutes=1)
Build = Callable[..., Awaitable[Container]]


@pytest.fixture(params=["local", "memory", "s3"])
async def build(
    request: pytest.FixtureRequest, settings: Settings, tmp_path: Path
) -> AsyncIterator[Build]:
    """Makes containers on this blob store, with settings changed as asked."""
    url = f"file://{tmp_path}/blobs"
    if request.param == "memory":
        url = "memory://"
    elif request.param == "s3":
        s3: S3Endpoint = request.getfixturevalue("s3_endpoint")
        url = s3.storage_url(s3.new_bucket(), "pixstash")
    built: list[Container] = []

    async def make(**updates: Any) -> Container:
        built.append(build_container(settings.model_copy(update={"storage_url": url, **updates})))
        return built[-1]

    yield make
    for container in built:
        await container.close()


@pytest.fixture
async def container(build: Build) -> Container:
    return await build()


@pytest.mark.db_backends("sqlite")
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


@pytest.mark.db_backends("sqlite")
async def test_incoming_grace_is_configurable(container: Container) -> None:
    await container.store.put_bytes("incoming/a/b.png", b"xy")
    report = await container.maintenance.collect_garbage(
        grace_seconds=3600, incoming_grace_seconds=0
    )
    assert report.incoming_objects == 1
    assert [o async for o in container.store.iter_objects()] == []


async def test_gc_keeps_the_object_of_an_upload_that_can_still_be_completed(
    build: Build,
) -> None:
    """An upload window longer than the incoming grace: the object stays as long as the
    upload may be completed, then goes with its session."""
    container = await build(direct_upload_seconds=3 * 24 * 3600)
    store, maintenance = container.store, container.maintenance
    ticket = await container.direct_uploads.start(
        filename="slow.png", content_type="image/png", size=10
    )
    key = ticket.session.key
    await store.put_bytes(key, b"0123456789")
    start = datetime.now(UTC)

    for later in (DAY + MINUTE, 5 * DAY):  # past the grace; not past expiry + a period
        maintenance.clock = lambda later=later: start + later
        report = await maintenance.collect_garbage(grace_seconds=3600)
        assert (report.incoming_objects, report.upload_sessions) == (0, 0)
        assert await store.stat(key) is not None

    maintenance.clock = lambda: start + 6 * DAY + MINUTE  # it can no longer be completed
    dry = await maintenance.collect_garbage(grace_seconds=3600, dry_run=True)
    assert (dry.incoming_objects, dry.incoming_bytes, dry.upload_sessions) == (1, 10, 1)
    assert await store.stat(key) is not None
    assert await container.direct_uploads.sessions.get_upload_session(ticket.session.id)

    report = await maintenance.collect_garbage(grace_seconds=3600)
    assert (report.incoming_objects, report.incoming_bytes, report.upload_sessions) == (1, 10, 1)
    assert await store.stat(key) is None
    with pytest.raises(UploadNotFound):
        await container.direct_uploads.complete(ticket.session.id)


async def test_gc_forgets_expired_sessions_and_later_their_objects(container: Container) -> None:
    store, maintenance = container.store, container.maintenance
    ticket = await container.direct_uploads.start(
        filename="gone.png", content_type="image/png", size=4
    )
    await store.put_bytes(ticket.session.key, b"abcd")
    start = datetime.now(UTC)

    # 15 minutes to start sending and as long to complete: over after 30 minutes
    maintenance.clock = lambda: start + timedelta(hours=2)
    report = await maintenance.collect_garbage(grace_seconds=3600)
    assert (report.upload_sessions, report.incoming_objects) == (1, 0)  # object: in its grace
    assert await container.direct_uploads.sessions.get_upload_session(ticket.session.id) is None
    assert await store.stat(ticket.session.key) is not None

    maintenance.clock = lambda: start + DAY + MINUTE
    report = await maintenance.collect_garbage(grace_seconds=3600)
    assert (report.upload_sessions, report.incoming_objects) == (0, 1)
    assert await store.stat(ticket.session.key) is None


async def test_gc_forgets_finished_sessions_after_the_grace(container: Container) -> None:
    store, maintenance, uploads = container.store, container.maintenance, container.direct_uploads
    data = imagegen.jpeg_bytes(40, 30)
    ticket = await uploads.start(filename="done.jpg", content_type="image/jpeg", size=len(data))
    await store.put_bytes(ticket.session.key, data)
    completed = await uploads.complete(ticket.session.id)
    start = datetime.now(UTC)

    maintenance.clock = lambda: start + timedelta(hours=2)
    report = await maintenance.collect_garbage(grace_seconds=3600)
    assert report.upload_sessions == 0
    again = await uploads.complete(ticket.session.id)  # still answers the same image
    assert (again.replayed, again.uploaded.image.id) == (True, completed.uploaded.image.id)

    await store.put_bytes(ticket.session.key, data)  # as if removing it had failed
    maintenance.clock = lambda: start + DAY + MINUTE
    report = await maintenance.collect_garbage(grace_seconds=3600)
    assert (report.upload_sessions, report.incoming_objects) == (1, 1)
    assert await store.stat(ticket.session.key) is None
    assert await uploads.sessions.get_upload_session(ticket.session.id) is None
    image = await container.images.get(completed.uploaded.image.id)
    assert image.id == completed.uploaded.image.id  # the image itself stays


async def test_a_failed_session_is_forgotten_after_the_grace(container: Container) -> None:
    sessions, maintenance = container.direct_uploads.sessions, container.maintenance
    ticket = await container.direct_uploads.start(
        filename="bad.png", content_type="image/png", size=4
    )
    assert await sessions.claim_upload_session(ticket.session.id, stale_after=600)
    await sessions.finish_upload_session(ticket.session.id, UploadState.FAILED)
    start = datetime.now(UTC)
    maintenance.clock = lambda: start + DAY + MINUTE
    report = await maintenance.collect_garbage(grace_seconds=3600)
    assert report.upload_sessions == 1
    assert await sessions.get_upload_session(ticket.session.id) is None
