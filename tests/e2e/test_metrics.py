"""Metrics across real processes: `pixstash serve --http-workers 2` sums its workers'
counts whichever one answers /metrics, and `pixstash worker` serves its children's on
PIXSTASH_WORKER_METRICS_PORT; their JSON log lines carry the upload's request id."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests import imagegen
from tests.e2e.conftest import PIXSTASH, Server, free_port, wait_until
from tests.metrics_text import parse_samples, value

pytestmark = pytest.mark.e2e
JSON_LOGS = {"PIXSTASH_LOG_FORMAT": "json", "PIXSTASH_LOG_LEVEL": "info"}


def log_entries(path: Path) -> list[dict[str, str]]:
    entries = []
    for line in path.read_text().splitlines():
        with contextlib.suppress(ValueError):
            entry = json.loads(line)
            if isinstance(entry, dict):
                entries.append(entry)
    return entries


def upload(url: str, seed: int, request_id: str) -> None:
    # a new connection each time: granian's workers take turns accepting them
    response = httpx.post(
        f"{url}/api/v1/images",
        content=imagegen.jpeg_bytes(64, 48, seed=seed),
        headers={"X-Request-ID": request_id},
        timeout=30,
    )
    assert response.status_code == 201, response.text
    assert response.headers["x-request-id"] == request_id


def test_metrics_sum_over_http_workers(server: Server) -> None:
    server.env_overrides = {**JSON_LOGS, "PIXSTASH_JOB_WORKERS": "0"}
    server.start("--http-workers", "2")
    log = server.log
    assert log is not None
    sent = 0

    def answering_pids() -> set[str]:
        entries = log_entries(log)
        return {str(e["pid"]) for e in entries if e["message"].startswith("upload answered")}

    while len(answering_pids()) < 2:
        assert sent < 200, "every upload went to one worker"
        upload(server.url, sent, f"spread-{sent}")
        sent += 1
    for _ in range(6):  # whichever worker answers, it reports every worker's uploads
        samples = parse_samples(httpx.get(f"{server.url}/metrics").text)
        assert value(samples, "pixstash_uploads_total", status="201", code="created") == sent
        assert value(samples, "pixstash_upload_duration_seconds_count") == sent
        assert value(samples, "pixstash_queue_jobs", state="pending") == sent


@contextlib.contextmanager
def worker(server: Server, env: dict[str, str], *args: str) -> Iterator[Path]:
    log = server.root / "worker.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [str(PIXSTASH), "worker", *args],
            env={**server.env, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield log
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def test_worker_serves_its_children_metrics_and_logs_request_ids(server: Server) -> None:
    server.env_overrides = {"PIXSTASH_JOB_WORKERS": "0"}
    server.start()
    port = free_port()
    env = {**JSON_LOGS, "PIXSTASH_WORKER_METRICS_PORT": str(port)}
    with worker(server, env, "--processes", "2") as log:
        ids = [f"job-test-{n}" for n in range(6)]
        for n, request_id in enumerate(ids):
            upload(server.url, 100 + n, request_id)

        def completed() -> float:
            try:
                text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
            except httpx.HTTPError:
                return -1
            samples = parse_samples(text)
            return value(
                samples, "pixstash_jobs_finished_total", kind="process-blob", outcome="completed"
            )

        wait_until(lambda: completed() == len(ids), 60, f"{len(ids)} jobs done (log: {log})")
        samples = parse_samples(httpx.get(f"http://127.0.0.1:{port}/metrics").text)
        assert value(samples, "pixstash_job_duration_seconds_count", kind="process-blob") == 6
        assert value(samples, "pixstash_jobs_running") == 0
        done = [e for e in log_entries(log) if " done in " in e["message"]]
        assert sorted(e["request_id"] for e in done) == ids
        assert all(e["job_kind"] == "process-blob" for e in done)
