"""The fault battery: processes killed with SIGKILL in the middle of their work.

* Scale-out: 200 uploads to a ``pixstash serve --workers 0`` on PostgreSQL, RabbitMQ and
  S3 (moto), processed by two ``pixstash worker`` processes. 20 times, a worker that has
  just started a job is killed and started again. Then every image is ready, no job is
  dead-lettered, and no blob was made twice: one original per content hash, each eager
  variant once, and the bucket holds exactly the objects the database names.
* Embedded: a SQLite ``pixstash serve`` (jobs run in its process) is killed 50 times while
  a client thread uploads, at points a seeded RNG picks, and started again each time.
  After every crash ``PRAGMA integrity_check`` is ok; at the end every upload answered
  201 is there with its exact bytes on disk, and every image becomes ready.

Independent worker processes, not ``pixstash worker --processes 2``: its supervisor gives
up on a child that keeps dying within 10 s of its start (a crash loop, by design), and
20 kills at the pace of this test would be one.
"""

from __future__ import annotations

import contextlib
import hashlib
import random
import signal
import sqlite3
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, create_engine, text

from pixstash.domain.formats import SourceFormat
from pixstash.domain.model import original_key
from pixstash.domain.variants import EAGER_VARIANTS
from tests import imagegen
from tests.e2e.cluster import STORAGE_PREFIX, Stack, Worker, cluster
from tests.e2e.conftest import PIXSTASH, Server, wait_until
from tests.e2e.nginx import nginx_binary
from tests.rabbitmq import require_broker

pytestmark = pytest.mark.e2e

WORKER_KILLS = 20
IMAGES_PER_KILL = 10  # 200 jobs in all
SERVER_KILLS = 50
EAGER = {spec.name for spec in EAGER_VARIANTS}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def post_image(client: httpx.Client, data: bytes) -> httpx.Response:
    return client.post("/api/v1/images", files={"image": ("p.jpg", data, "image/jpeg")})


# --- scale-out: workers killed mid-job ---------------------------------------------------


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    nginx_binary()
    require_broker()
    # retry_delays=1: a job that failed for real would come back within the test
    with cluster(tmp_path / "stack", servers=1, workers=2, retry_delays="1") as running:
        yield running


def started_jobs(engine: Engine) -> list[tuple[int, int, int]]:
    """(job id, pid of the worker running it, attempts) of the jobs a worker has started:
    a worker marks the row with its identity (host:pid:start-time) at each delivery."""
    with engine.connect() as db:
        rows = db.execute(
            text(
                "SELECT id, locked_by, attempts FROM jobs "
                "WHERE state = 'published' AND locked_by IS NOT NULL"
            )
        ).all()
    return [(job_id, int(holder.rsplit(":", 2)[1]), attempts) for job_id, holder, attempts in rows]


@dataclass
class WorkerKiller:
    """Kills (SIGKILL) a worker that runs a job on its first delivery, and starts it again.

    Only first deliveries are targeted so that no job is killed twice (but for the few
    milliseconds between looking and killing): a kill counts as an attempt (deliveries
    are attempts, see jobs/amqp.py), and the default 5 attempts must be enough."""

    stack: Stack
    engine: Engine
    kills: int = 0
    mid_job: int = 0  # kills after which the victim's job was still unfinished

    def busy_worker(self) -> tuple[Worker, int] | None:
        by_pid = {w.process.pid: w for w in self.stack.workers if w.process is not None}
        for job_id, pid, attempts in started_jobs(self.engine):
            if pid in by_pid and attempts == 1:
                return by_pid[pid], job_id
        return None

    def kill_a_busy_worker(self) -> bool:
        """False (and nothing done) when no worker has just started a job."""
        found = self.busy_worker()
        if found is None:
            return False
        victim, job_id = found
        victim.kill(signal.SIGKILL)
        with self.engine.connect() as db:
            row = db.execute(text("SELECT 1 FROM jobs WHERE id = :id"), {"id": job_id}).first()
        victim.start()  # waits until it consumes again
        self.kills += 1
        self.mid_job += row is not None
        return True


def test_worker_kills_lose_no_job_and_store_no_blob_twice(stack: Stack) -> None:
    engine = create_engine(stack.database_url)
    uploaded: dict[str, str] = {}  # image id -> sha256 of its bytes
    killer = WorkerKiller(stack, engine)
    try:
        with httpx.Client(base_url=stack.servers[0].url, timeout=30) as client:
            for kill in range(WORKER_KILLS):
                killed = False
                for i in range(IMAGES_PER_KILL):
                    data = imagegen.jpeg_bytes(320, 240, seed=kill * IMAGES_PER_KILL + i)
                    response = post_image(client, data)
                    assert response.status_code == 201, response.text
                    uploaded[response.json()["id"]] = sha256(data)
                    # look while uploading too: a fast machine may finish a round's jobs
                    # as soon as the last one is uploaded
                    if not killed and i >= IMAGES_PER_KILL // 2:
                        killed = killer.kill_a_busy_worker()
                if not killed:
                    wait_until(killer.kill_a_busy_worker, 60, "a worker to start a job")

        def all_processed() -> bool:
            with engine.connect() as db:
                rows = db.execute(text("SELECT status, count(*) FROM blobs GROUP BY status"))
                statuses: dict[str, int] = {status: n for status, n in rows}
                jobs: dict[str, int] = {
                    state: n
                    for state, n in db.execute(
                        text("SELECT state, count(*) FROM jobs GROUP BY state")
                    )
                }
            assert "failed" not in statuses, statuses
            assert "dead" not in jobs, f"dead-lettered jobs: {jobs}"  # fail now, not at timeout
            return statuses == {"ready": len(uploaded)} and not jobs

        try:
            wait_until(all_processed, 120, "all 200 images to be ready")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{stack.logs()}") from None
        with engine.connect() as db:
            rows = db.execute(text("SELECT id, blob_hash FROM images"))
            images: dict[str, str] = {image_id: blob_hash for image_id, blob_hash in rows}
            blobs = db.execute(text("SELECT hash, format FROM blobs")).all()
            variants = db.execute(text("SELECT blob_hash, name, key FROM variants")).all()
    finally:
        engine.dispose()

    # most kills must land mid-job, or the test proves little (a finished job's row is gone)
    assert killer.kills == WORKER_KILLS
    assert killer.mid_job >= WORKER_KILLS // 2, f"only {killer.mid_job} kills were mid-job"
    assert images == uploaded  # one row per upload, on the blob of its bytes
    assert sorted(h for h, _ in blobs) == sorted(set(uploaded.values()))  # one blob per hash
    made: dict[str, list[str]] = {}
    for blob_hash, name, _ in variants:
        made.setdefault(blob_hash, []).append(name)
    # each eager variant exactly once per blob (not twice, not in a second format)
    assert {h: sorted(names) for h, names in made.items()} == {h: sorted(EAGER) for h, _ in blobs}
    named = {f"{STORAGE_PREFIX}/{original_key(h, SourceFormat(f))}" for h, f in blobs}
    named |= {f"{STORAGE_PREFIX}/{key}" for _, _, key in variants}
    objects = stack.object_keys()
    assert named <= objects, sorted(named - objects)[:10]  # no row without its blob
    assert objects == named, sorted(objects - named)[:10]  # no object made twice or left over
    assert stack.dead_letters() == 0


# --- embedded: the SQLite server killed during writes ------------------------------------


class Uploader(threading.Thread):
    """Uploads new images, one at a time, for as long as it runs; retries the same bytes
    after a lost connection (as a client would) once the server is back (``up``)."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.acknowledged: dict[str, str] = {}  # image id -> sha256, for every 201
        self.unexpected: list[str] = []
        self.answered = 0
        self.interrupted = 0  # requests cut by a kill (sent, never answered)
        self.in_flight = threading.Event()
        self.up = threading.Event()
        self.stop = threading.Event()
        self.error: Exception | None = None

    def run(self) -> None:
        try:
            self._upload_until_stopped()
        except Exception as exc:  # reported by the test thread (answered() checks it)
            self.error = exc

    def _upload_until_stopped(self) -> None:
        seed = 0
        data = imagegen.jpeg_bytes(320, 240, seed=seed)
        with httpx.Client(base_url=self.url, timeout=30) as client:
            while not self.stop.is_set():
                if not self.up.wait(0.1):
                    continue
                self.in_flight.set()
                try:
                    response = post_image(client, data)
                except httpx.ConnectError:
                    continue  # the server is down: sent again
                except httpx.TransportError:
                    self.interrupted += 1
                    continue  # killed mid-request: unacknowledged, sent again
                finally:
                    self.in_flight.clear()
                if response.status_code == 201:
                    self.acknowledged[response.json()["id"]] = sha256(data)
                else:
                    self.unexpected.append(f"{response.status_code} {response.text[:200]}")
                self.answered += 1
                seed += 1
                data = imagegen.jpeg_bytes(320, 240, seed=seed)


def answered(uploader: Uploader, count: int) -> Callable[[], bool]:
    def check() -> bool:
        assert uploader.error is None, f"the upload thread failed: {uploader.error!r}"
        return uploader.answered >= count

    return check


def integrity(database: Path) -> list[str]:
    conn = sqlite3.connect(database)
    try:
        return [row[0] for row in conn.execute("PRAGMA integrity_check")]
    finally:
        conn.close()


def test_sqlite_server_kills_lose_no_acknowledged_upload(tmp_path: Path) -> None:
    server = Server(tmp_path, env_overrides={"PIXSTASH_RATE_LIMIT_ANONYMOUS_UPLOADS": ""})
    database = tmp_path / "pixstash.db"
    uploader = Uploader(server.url)
    rng = random.Random(6)
    try:
        server.start()
        uploader.up.set()
        uploader.start()
        for kill in range(SERVER_KILLS):
            target = uploader.answered + rng.randint(1, 3)  # some commits and jobs first
            wait_until(answered(uploader, target), 60, f"upload {target}")
            assert uploader.in_flight.wait(30), "no upload in flight"
            # where in a request (and in the jobs running beside it) the kill lands: fault
            # injection at a seeded random point, not a wait for anything
            time.sleep(rng.uniform(0, 0.06))
            # that request may be over: then the next one, as it starts (not between two)
            assert uploader.in_flight.wait(30), "no upload in flight"
            uploader.up.clear()
            server.kill(signal.SIGKILL)
            assert integrity(database) == ["ok"], f"after kill {kill + 1}"
            server.start()
            uploader.up.set()
        uploader.stop.set()
        uploader.join(timeout=60)
        assert not uploader.is_alive()

        def all_ready() -> bool:
            with contextlib.closing(sqlite3.connect(database)) as conn:
                statuses = dict(conn.execute("SELECT status, count(*) FROM blobs GROUP BY 1"))
                jobs = conn.execute("SELECT count(*) FROM jobs").fetchone()[0]
            assert "failed" not in statuses, statuses
            return set(statuses) == {"ready"} and jobs == 0

        wait_until(all_ready, 120, "every image to be processed after the last restart")
        assert integrity(database) == ["ok"]
    finally:
        uploader.stop.set()
        if uploader.is_alive():
            uploader.join(timeout=60)
        server.kill(signal.SIGTERM)

    assert uploader.error is None
    assert uploader.unexpected == []
    # most kills must cut a request (a few land as one ends), or the test proves little
    counts = f"{uploader.interrupted} cut, {len(uploader.acknowledged)} acknowledged"
    assert uploader.interrupted >= SERVER_KILLS // 2, counts
    assert len(uploader.acknowledged) >= SERVER_KILLS, counts
    with contextlib.closing(sqlite3.connect(database)) as conn:
        images = dict(conn.execute("SELECT id, blob_hash FROM images"))
        refcounts = dict(conn.execute("SELECT hash, refcount FROM blobs"))
        variants = list(conn.execute("SELECT blob_hash, name, key FROM variants"))
    for image_id, blob_hash in uploader.acknowledged.items():
        assert images.get(image_id) == blob_hash, f"acknowledged upload {image_id} is lost"
    # a resent upload whose first try was committed unanswered shares the blob: counted twice
    assert refcounts == dict(Counter(images.values()))
    blobs = tmp_path / "blobs"
    for blob_hash in set(images.values()):  # acknowledged or not: no row without its bytes
        original = blobs / original_key(blob_hash, SourceFormat.JPEG)
        assert sha256(original.read_bytes()) == blob_hash
        assert sorted(name for h, name, _ in variants if h == blob_hash) == sorted(EAGER)
    # what the crashes left (originals without a row, temp files) is garbage for gc alone
    named = {original_key(h, SourceFormat.JPEG) for h in images.values()}
    named |= {key for _, _, key in variants}
    gc = [str(PIXSTASH), "gc", "--grace", "0"]
    subprocess.run(gc, env=server.env, check=True, capture_output=True, timeout=60)
    on_disk = {str(p.relative_to(blobs)) for p in blobs.rglob("*") if p.is_file()}
    assert on_disk == named, (sorted(on_disk - named)[:10], sorted(named - on_disk)[:10])
