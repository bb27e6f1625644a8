"""End to end in the scale-out shape, with faults: nginx in front of two ``pixstash serve``
and two ``pixstash worker`` processes, on PostgreSQL, RabbitMQ, Redis and S3 (moto).

100 images go through nginx with the presigned flow (start, POST to the bucket, complete),
from several client threads. Mid-run one server and one worker are killed with SIGKILL,
and RabbitMQ is stopped and started again (``rabbitmqctl stop_app``/``start_app``) while
uploads go on. Clients behave as the API asks: they retry a 503 and a 409 ``conflict``.
Afterwards every image must be ready, every eager variant in the bucket and served through
nginx, the bucket must hold exactly what the database names, and nothing may be dead.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from pixstash.domain.formats import SourceFormat
from pixstash.domain.model import original_key
from pixstash.domain.variants import EAGER_VARIANTS
from tests import imagegen
from tests.e2e.cluster import STORAGE_PREFIX, Stack, cluster, presigned_upload
from tests.e2e.conftest import wait_until
from tests.e2e.nginx import nginx_binary
from tests.pgserver import in_ci
from tests.rabbitmq import require_broker

pytestmark = pytest.mark.e2e

IMAGES = 100
CLIENTS = 6
KILL_SERVER_AT = 20  # completed uploads
KILL_WORKER_AT = 40
BROKER_DOWN_AT, BROKER_UP_AT = 55, 70


def rabbitmqctl(*args: str) -> None:
    found = shutil.which("rabbitmqctl") or shutil.which("rabbitmqctl", path="/usr/sbin")
    if found is None:
        reason = "rabbitmqctl is not installed: the broker restart cannot be done"
        if in_ci():
            pytest.fail(reason, pytrace=False)
        pytest.skip(f"!!! CLUSTER TEST SKIPPED: {reason} !!!")
    subprocess.run([found, *args], check=True, capture_output=True, timeout=120)


def restart_broker_when(progress: Progress, down_at: int, up_at: int) -> None:
    progress.wait_for(down_at)
    rabbitmqctl("stop_app")
    try:
        progress.wait_for(up_at)  # uploads keep being accepted: the database is the outbox
    finally:
        rabbitmqctl("start_app")
        rabbitmqctl("await_startup", "--timeout", "60")


class Progress:
    """Counts completed uploads; the fault thread waits for milestones on it."""

    def __init__(self) -> None:
        self.done = 0
        self.failed: list[BaseException] = []
        self._changed = threading.Condition()

    def completed(self) -> None:
        with self._changed:
            self.done += 1
            self._changed.notify_all()

    def failure(self, exc: BaseException) -> None:
        with self._changed:
            self.failed.append(exc)
            self._changed.notify_all()

    def wait_for(self, count: int, timeout: float = 300) -> None:
        with self._changed:
            if not self._changed.wait_for(lambda: self.done >= count or self.failed, timeout):
                raise AssertionError(f"only {self.done} uploads completed, waiting for {count}")
            if self.failed:
                raise AssertionError(f"an upload failed: {self.failed[0]!r}")


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    nginx_binary()
    require_broker()
    rabbitmqctl("status")
    with cluster(tmp_path / "stack", servers=2, workers=2) as running:
        yield running


def upload_all(stack: Stack, progress: Progress) -> dict[str, dict[str, Any]]:
    local = threading.local()
    clients: list[httpx.Client] = []

    def one(i: int) -> dict[str, Any]:
        if not hasattr(local, "app"):
            local.app = httpx.Client(base_url=stack.url, timeout=30)
            local.bucket = httpx.Client(timeout=30)
            clients.extend((local.app, local.bucket))
        data = imagegen.jpeg_bytes(640 + i, 480, seed=i)
        try:
            body = presigned_upload(local.app, local.bucket, data, f"photo-{i}.jpg")
        except BaseException as exc:
            progress.failure(exc)
            raise
        progress.completed()
        return body

    try:
        with ThreadPoolExecutor(CLIENTS) as pool:
            futures = [pool.submit(one, i) for i in range(IMAGES)]
            progress.wait_for(KILL_SERVER_AT)
            stack.servers[0].kill()  # SIGKILL, mid-run: nginx fails over to the other one
            progress.wait_for(KILL_WORKER_AT)
            stack.workers[0].kill()  # SIGKILL: its unacked jobs go to the other worker
            restart_broker_when(progress, BROKER_DOWN_AT, BROKER_UP_AT)
            bodies = [future.result() for future in futures]
    finally:
        for client in clients:
            client.close()
    return {str(body["id"]): body for body in bodies}


def test_uploads_survive_kills_and_a_broker_restart(stack: Stack) -> None:
    progress = Progress()
    uploaded = upload_all(stack, progress)
    assert len(uploaded) == IMAGES

    with httpx.Client(base_url=stack.url, timeout=30) as client:

        def all_ready() -> bool:
            statuses = {
                image_id: client.get(f"/api/v1/images/{image_id}").json()["status"]
                for image_id in uploaded
            }
            assert "failed" not in statuses.values(), statuses
            return all(status == "ready" for status in statuses.values())

        wait_until(all_ready, 180, "all 100 images to become ready")

        # every media URL, through nginx (the second server and the relay)
        served = 0
        for image_id in uploaded:
            links = client.get(f"/api/v1/images/{image_id}").json()["links"]
            for name in ("full", "thumb", "medium", "large"):
                response = client.get(links[name])
                assert response.status_code == 200, (links[name], response.text[:200])
                assert response.headers["content-type"] == "image/jpeg"
                assert response.content[:3] == b"\xff\xd8\xff"
                served += 1
        assert served == 4 * IMAGES

    engine = create_engine(stack.database_url)
    try:
        with engine.connect() as db:
            blobs = db.execute(
                text("SELECT b.hash, b.format FROM images i JOIN blobs b ON b.hash = i.blob_hash")
            ).all()
            variants = db.execute(text("SELECT blob_hash, name, key FROM variants")).all()
            jobs = db.execute(text("SELECT state, count(*) FROM jobs GROUP BY state")).all()
            images = db.execute(text("SELECT count(*) FROM images")).scalar_one()
    finally:
        engine.dispose()

    assert images == IMAGES  # a retried complete made no second image
    assert jobs == [], f"jobs left in the outbox: {jobs}"
    objects = stack.object_keys()
    named = {f"{STORAGE_PREFIX}/{original_key(h, SourceFormat(f))}" for h, f in blobs}
    named |= {f"{STORAGE_PREFIX}/{key}" for _, _, key in variants}
    # no row without its blobs, and every eager variant made
    assert named <= objects, sorted(named - objects)[:10]
    eager = {spec.name for spec in EAGER_VARIANTS}
    made: dict[str, set[str]] = {}
    for blob_hash, name, _ in variants:
        made.setdefault(blob_hash, set()).add(name)
    assert all(eager <= made.get(h, set()) for h, _ in blobs), "an eager variant is missing"
    # no orphan: nothing the database does not name (incoming/ included)
    assert objects == named, sorted(objects - named)[:10]
    assert stack.dead_letters() == 0
