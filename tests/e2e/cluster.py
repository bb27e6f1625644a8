"""The scale-out shape on loopback: nginx (the shipped deploy config) in front of N
``pixstash serve`` processes and M ``pixstash worker`` processes, on this machine's
PostgreSQL, RabbitMQ and Redis and an S3 endpoint from ``moto[server]`` run as a child
process. Used by tests/e2e/test_cluster.py and by ``make bench`` (the cluster section).

Everything the stack makes is its own: a throwaway database, a fresh bucket, queue and
Redis key prefixes of its own; ``close`` removes the queues and the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aio_pika
import boto3
import httpx
import redis

from tests.e2e.conftest import PIXSTASH, Server, free_port, wait_until
from tests.e2e.nginx import Nginx
from tests.pgserver import PostgresServer
from tests.rabbitmq import BROKER_URL, delete_queues
from tests.s3server import FAKE_AWS_ENV, REGION

REDIS_URL = os.environ.get("PIXSTASH_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
STORAGE_PREFIX = "media"


def _clean_environ() -> dict[str, str]:
    """This process's environment without PIXSTASH_* or AWS_* settings of its own."""
    return {
        k: v for k, v in os.environ.items() if not k.startswith(("PIXSTASH_", "AWS_"))
    } | FAKE_AWS_ENV


@dataclass
class Moto:
    """``python -m moto.server`` on a free loopback port, in its own process (the test
    process stays free to drive the load)."""

    log: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with open(self.log, "wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
                env=_clean_environ(),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_until(self._answers, 30, f"moto to answer (log: {self.log})")

    def _answers(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"moto exited: {self.log.read_text(errors='replace')}")
        try:
            httpx.get(f"{self.url}/moto-api/", timeout=1)
        except httpx.HTTPError:
            return False
        return True

    def client(self) -> Any:
        return boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
        ).client("s3", endpoint_url=self.url)

    def stop(self) -> None:
        stop_process(self.process)
        self.process = None


def stop_process(process: subprocess.Popen[bytes] | None, sig: int = signal.SIGTERM) -> None:
    """Signal a child's whole session and reap it (SIGKILL after 15 s)."""
    if process is None or process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=15)


@dataclass
class Worker:
    """One ``pixstash worker --processes 1`` (no supervisor: one process that runs jobs)."""

    root: Path
    env: dict[str, str]
    concurrency: int = 1
    process: subprocess.Popen[bytes] | None = None
    log: Path | None = None

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.log = self.root / f"worker-{time.monotonic_ns()}.log"
        command = [str(PIXSTASH), "worker", "--processes", "1"]
        command += ["--concurrency", str(self.concurrency)]
        with open(self.log, "wb") as out:
            self.process = subprocess.Popen(
                command, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        # printed once the runner consumes from the queue
        wait_until(self._running, 60, f"the worker to start (log: {self.log})")

    def _running(self) -> bool:
        assert self.process is not None
        assert self.log is not None
        text = self.log.read_text(errors="replace")
        if self.process.poll() is not None:
            raise AssertionError(f"worker exited: {text}")
        return "pixstash worker running" in text

    def kill(self, sig: int = signal.SIGKILL) -> None:
        stop_process(self.process, sig)
        self.process = None


@dataclass
class Stack:
    root: Path
    servers: list[Server]
    workers: list[Worker]
    nginx: Nginx
    moto: Moto
    s3: Any
    bucket: str
    database_url: str
    queue_prefix: str
    cache_prefix: str

    @property
    def url(self) -> str:
        return self.nginx.url

    def object_keys(self) -> set[str]:
        keys: set[str] = set()
        paginator = self.s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket):
            keys.update(item["Key"] for item in page.get("Contents", []))
        return keys

    def dead_letters(self) -> int:
        return asyncio.run(_message_count(f"{self.queue_prefix}.jobs.dead"))

    def logs(self) -> str:
        """Every process's log, for an assertion message."""
        parts = []
        for path in sorted(self.root.rglob("*.log")):
            tail = "\n".join(path.read_text(errors="replace").splitlines()[-30:])
            parts.append(f"--- {path.relative_to(self.root)}\n{tail}")
        return "\n".join(parts)


async def _message_count(queue: str) -> int:
    connection = await aio_pika.connect(BROKER_URL)
    async with connection:
        channel = await connection.channel()
        declared = await channel.declare_queue(queue, passive=True)
        count = declared.declaration_result.message_count
        return int(count or 0)


def _queue_names(prefix: str, retry_delays: str) -> list[str]:
    retries = [f"{prefix}.jobs.retry.{round(float(d) * 1000)}" for d in retry_delays.split(",")]
    return [f"{prefix}.jobs", f"{prefix}.jobs.dead", *retries]


def _delete_redis_keys(prefix: str) -> None:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        for key in client.scan_iter(match=f"{prefix}*"):
            client.delete(key)
    finally:
        client.close()


@contextlib.contextmanager
def cluster(
    root: Path,
    *,
    servers: int = 2,
    workers: int = 2,
    worker_concurrency: int = 1,
    retry_delays: str = "1,2",
    extra_env: dict[str, str] | None = None,
) -> Iterator[Stack]:
    """Start the whole stack (workers last) and stop it all at the end.

    nginx's template names two upstream servers; with ``servers=1`` both lines point at
    the same process."""
    postgres = PostgresServer()
    postgres.check()
    moto = Moto(root / "moto.log")
    root.mkdir(parents=True, exist_ok=True)
    token = secrets.token_hex(4)
    queue_prefix = f"pixstash-test-{token}"
    cache_prefix = f"pixstash-test-{token}:"
    web: list[Server] = []
    jobs: list[Worker] = []
    proxy: Nginx | None = None
    try:
        database_url = postgres.create("cluster")
        moto.start()
        s3 = moto.client()
        bucket = f"cluster-{token}"
        s3.create_bucket(Bucket=bucket)
        proxy = Nginx(root / "nginx", [], root / "unused-blobs")
        env = {
            "PIXSTASH_DATABASE_URL": database_url,
            "PIXSTASH_STORAGE_URL": (
                f"s3://{bucket}/{STORAGE_PREFIX}?endpoint={moto.url}&region={REGION}"
            ),
            "PIXSTASH_QUEUE_URL": (
                f"{BROKER_URL}?prefix={queue_prefix}&retry_delays={retry_delays}"
            ),
            "PIXSTASH_CACHE_URL": f"{REDIS_URL}?prefix={cache_prefix}",
            "PIXSTASH_PUBLIC_URL": proxy.url,
            "PIXSTASH_SECRET_KEY": secrets.token_urlsafe(32),
            # every test client is 127.0.0.1; the limit is counted in Redis across servers
            "PIXSTASH_RATE_LIMIT_ANONYMOUS_UPLOADS": "10000/hour",
            **(extra_env or {}),
        }
        for i in range(servers):
            server_root = root / f"web{i + 1}"
            server_root.mkdir()
            server = Server(server_root, env_overrides={**FAKE_AWS_ENV, **env})
            web.append(server)
            server.start("--workers", "0")  # one after the other: the first one migrates
        upstreams = [f"127.0.0.1:{s.port}" for s in web]
        proxy.upstreams = (upstreams * 2)[:2] if servers == 1 else upstreams
        proxy.start()
        for i in range(workers):
            worker = Worker(root / f"worker{i + 1}", web[0].env, worker_concurrency)
            jobs.append(worker)
            worker.start()
        yield Stack(
            root, web, jobs, proxy, moto, s3, bucket, database_url, queue_prefix, cache_prefix
        )
    finally:
        for worker in jobs:
            worker.kill(signal.SIGTERM)
        if proxy is not None:
            proxy.stop()
        for server in web:
            server.kill(signal.SIGTERM)
        moto.stop()
        with contextlib.suppress(Exception):
            asyncio.run(delete_queues(_queue_names(queue_prefix, retry_delays)))
        with contextlib.suppress(Exception):
            _delete_redis_keys(cache_prefix)
        postgres.drop_all()


# --- the client side of the presigned flow, as a well-behaved client does it -------------

RETRYABLE = {502, 503, 504}


class UploadGaveUp(AssertionError):
    pass


def _retryable(response: httpx.Response) -> bool:
    """503 backend-unavailable (or nginx's 502/504), and 409 ``upload-in-progress``: the
    upload is being completed by another request, perhaps one whose server died."""
    if response.status_code in RETRYABLE:
        return True
    if response.status_code != 409:
        return False
    with contextlib.suppress(ValueError, KeyError, TypeError):
        return bool(response.json()["error"]["code"] == "upload-in-progress")
    return False


def _retrying(send: Any, what: str, deadline: float) -> httpx.Response:
    """Send until the answer is not a retryable one or the connection holds; backs off
    0.1..1 s between attempts; gives up at ``deadline``."""
    delay = 0.1
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            response: httpx.Response = send()
        except httpx.TransportError as exc:
            last = f"{type(exc).__name__}: {exc}"
        else:
            if not _retryable(response):
                return response
            last = f"{response.status_code} {response.text[:200]}"
        time.sleep(delay)  # a client's backoff between attempts, not synchronisation
        delay = min(delay * 2, 1.0)
    raise UploadGaveUp(f"{what}: still failing at the deadline; last answer {last}")


def presigned_upload(
    app: httpx.Client, bucket: httpx.Client, data: bytes, name: str, timeout: float = 90
) -> dict[str, Any]:
    """Start, POST the file to the bucket, complete; returns the image JSON."""
    deadline = time.monotonic() + timeout
    started = _retrying(
        lambda: app.post(
            "/api/v1/uploads",
            json={"filename": name, "content_type": "image/jpeg", "size": len(data)},
        ),
        "start",
        deadline,
    )
    assert started.status_code == 201, started.text
    ticket = started.json()
    sent = _retrying(
        lambda: bucket.post(
            ticket["url"], data=ticket["fields"], files={"file": (name, data, "image/jpeg")}
        ),
        "POST to the bucket",
        deadline,
    )
    assert sent.status_code in (200, 201, 204), sent.text
    completed = _retrying(
        lambda: app.post(f"/api/v1/uploads/{ticket['upload_id']}/complete"),
        "complete",
        deadline,
    )
    assert completed.status_code in (200, 201), completed.text
    body: dict[str, Any] = completed.json()
    return body
