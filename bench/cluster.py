"""The scale-out shape: uploads/s through nginx with 1 and 2 servers and 1 and 2 workers,
and the time from an upload to all its eager variants being ready.

Each shape is the whole stack of tests/e2e/cluster.py (nginx from deploy/, ``pixstash
serve`` x S, ``pixstash worker`` x W, PostgreSQL, RabbitMQ, Redis, moto as the S3
endpoint), driven by client threads in this process through the presigned flow (start,
POST to the bucket, complete), as a browser or the CLI sends it. Every body is unique
(a JPEG comment), so deduplication never short-cuts the work.

* uploads/s: completed uploads over the wall time from the first start to the last 201,
  while the workers process what came before (the steady state of a busy site).
* ready: per image, the last eager variant's ``created_at`` minus the image's
  ``created_at`` (both written by the cluster, so no polling error): p50 and p99.
* drained/s: images fully processed over the time from the first start to the last
  variant.

Everything shares two cores here: the client threads, nginx, moto, PostgreSQL, RabbitMQ
and Redis take CPU from the servers and workers, so more processes mostly add contention.
"""

from __future__ import annotations

import statistics
import struct
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

from pixstash.domain.variants import EAGER_VARIANTS

SHAPES = ((1, 1), (2, 1), (1, 2), (2, 2))  # (servers, workers)


@dataclass
class ClusterRow:
    servers: int
    workers: int
    uploads: int
    clients: int
    wall_s: float = 0.0
    upload_ms: list[float] = field(default_factory=list)
    ready_ms: list[float] = field(default_factory=list)
    drained_s: float = 0.0
    error: str | None = None

    @property
    def label(self) -> str:
        return f"{self.servers} server(s), {self.workers} worker(s)"

    @property
    def uploads_per_s(self) -> float:
        return self.uploads / self.wall_s if self.wall_s else 0.0

    @property
    def drained_per_s(self) -> float:
        return self.uploads / self.drained_s if self.drained_s else 0.0


def unique_jpeg(base: bytes, tag: str) -> bytes:
    """``base`` with a COM segment after SOI that makes it unique."""
    comment = f"pixstash-bench {tag}".encode()
    return base[:2] + b"\xff\xfe" + struct.pack(">H", len(comment) + 2) + comment + base[2:]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _ready_times(database_url: str, expected: int, timeout: float) -> tuple[list[float], float]:
    """Wait until ``expected`` images have every eager variant; their ready times (ms)
    and the time of the last variant (epoch s)."""
    eager = [spec.name for spec in EAGER_VARIANTS]
    query = text(
        "SELECT i.created_at, max(v.created_at), count(v.name) FROM images i "
        "JOIN variants v ON v.blob_hash = i.blob_hash AND v.name = ANY(:eager) "
        "GROUP BY i.id, i.created_at ORDER BY i.created_at"
    )
    engine = create_engine(database_url)
    deadline = time.monotonic() + timeout
    try:
        while True:
            with engine.connect() as db:
                rows = db.execute(query, {"eager": eager}).all()
            done = [(made, last) for made, last, count in rows if count == len(eager)]
            if len(done) >= expected:
                ready = [(last - made).total_seconds() * 1000 for made, last in done]
                return ready, max(last for _, last in done).timestamp()
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(done)} of {expected} images ready after {timeout} s")
            time.sleep(0.1)  # polling the database for the end of the run
    finally:
        engine.dispose()


def run_shape(
    root: Path, base: bytes, servers: int, workers: int, uploads: int, clients: int, nonce: str
) -> ClusterRow:
    from tests.e2e.cluster import cluster, presigned_upload

    row = ClusterRow(servers, workers, uploads, clients)
    with cluster(root, servers=servers, workers=workers) as stack:
        local = threading.local()
        opened: list[httpx.Client] = []

        def one(i: int) -> float:
            if not hasattr(local, "app"):
                local.app = httpx.Client(base_url=stack.url, timeout=60)
                local.bucket = httpx.Client(timeout=60)
                opened.extend((local.app, local.bucket))
            data = unique_jpeg(base, f"{nonce} {servers}s{workers}w {i}")
            began = time.perf_counter()
            presigned_upload(local.app, local.bucket, data, f"b{i}.jpg")
            return (time.perf_counter() - began) * 1000

        try:
            with ThreadPoolExecutor(clients) as pool:
                list(pool.map(one, range(clients)))  # warm-up: connections, caches
                _ready_times(stack.database_url, clients, 120)
                started_wall, started = time.time(), time.perf_counter()
                row.upload_ms = list(pool.map(one, range(clients, clients + uploads)))
                row.wall_s = time.perf_counter() - started
            ready, last = _ready_times(stack.database_url, clients + uploads, 600)
        finally:
            for client in opened:
                client.close()
        row.ready_ms = ready[clients:]  # in creation order: the warm-up ones first
        row.drained_s = last - started_wall
    return row


def run_cluster(
    work: Path,
    base: bytes,
    nonce: str,
    *,
    uploads: int = 120,
    clients: int = 8,
    progress: Callable[[str], None] | None = None,
) -> list[ClusterRow]:
    rows = []
    for servers, workers in SHAPES:
        if progress is not None:
            progress(f"cluster: {servers} server(s), {workers} worker(s)")
        root = work / f"cluster-{servers}s{workers}w"
        try:
            rows.append(run_shape(root, base, servers, workers, uploads, clients, nonce))
        except Exception as exc:  # report the shape as failed, go on with the others
            failed = ClusterRow(servers, workers, uploads, clients)
            failed.error = f"{type(exc).__name__}: {exc}"
            rows.append(failed)
    return rows


def render_cluster(rows: list[ClusterRow], jpeg_bytes: int) -> list[str]:
    if not rows:
        return []
    first = rows[0]
    out = [
        f"## Cluster shape: presigned uploads through nginx ({first.uploads} unique "
        f"~{jpeg_bytes // 1024} KB JPEGs, {first.clients} client threads), PostgreSQL, "
        "RabbitMQ, Redis, S3 (moto)",
        "",
        "| shape | uploads/s | upload p50 ms | upload p99 ms | ready p50 ms | ready p99 ms "
        "| drained/s | vs 1+1 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    reference = next((r for r in rows if (r.servers, r.workers) == (1, 1) and not r.error), None)
    for row in rows:
        if row.error:
            out.append(f"| {row.label} | failed: {row.error[:120]} | | | | | | |")
            continue
        ratio = (
            f"{row.uploads_per_s / reference.uploads_per_s:.2f}x uploads, "
            f"{row.drained_per_s / reference.drained_per_s:.2f}x drained"
            if reference
            else ""
        )
        out.append(
            f"| {row.label} | {row.uploads_per_s:.1f} "
            f"| {statistics.median(row.upload_ms):.0f} | {_percentile(row.upload_ms, 0.99):.0f} "
            f"| {statistics.median(row.ready_ms):.0f} | {_percentile(row.ready_ms, 0.99):.0f} "
            f"| {row.drained_per_s:.1f} | {ratio} |"
        )
    out += [
        "",
        "uploads/s: completed presigned uploads (start, POST to the bucket, complete) over "
        "the wall time, while the workers process; ready: an image's last eager variant "
        "minus its creation (database timestamps); drained/s: images fully processed over "
        "the time from the first start to the last variant. All processes, the client and "
        "the backends share the machine's cores.",
    ]
    return out
