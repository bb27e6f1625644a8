"""End to end: ``pixstash worker --processes N`` supervises real worker processes."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests import imagegen
from tests.e2e.conftest import PIXSTASH, Server, wait_until

pytestmark = pytest.mark.e2e


def children_of(pid: int) -> set[int]:
    """Live (not zombie) children of ``pid``, read from /proc (no psutil here)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # exited while we looked
            continue
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        if int(ppid) == pid and state != "Z":
            found.add(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@contextlib.contextmanager
def supervisor(server: Server, *args: str) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    log = server.root / "worker.log"
    with open(log, "wb") as out:
        parent = subprocess.Popen(
            [str(PIXSTASH), "worker", *args],
            env=server.env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield parent, log
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(parent.pid, signal.SIGKILL)
        parent.wait(timeout=15)


def upload(client: httpx.Client, seed: int) -> str:
    data = imagegen.jpeg_bytes(1600, 1200, seed=seed)
    response = client.post("/api/v1/images", files={"image": ("p.jpg", data, "image/jpeg")})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def pending_jobs(server: Server) -> int:
    with sqlite3.connect(server.root / "pixstash.db") as conn:
        count: int = conn.execute("SELECT COUNT(*) FROM jobs").fetchone()[0]
        return count


def lease_holders(server: Server) -> set[int]:
    """Pids of the processes holding a job lease (``locked_by`` is host:pid:start-time)."""
    with sqlite3.connect(server.root / "pixstash.db") as conn:
        rows = conn.execute("SELECT locked_by FROM jobs WHERE locked_by IS NOT NULL").fetchall()
    return {int(row[0].rsplit(":", 2)[1]) for row in rows}


def test_restarts_a_killed_worker_and_stops_on_sigterm(server: Server) -> None:
    server.start("--workers", "0")  # jobs wait for the worker processes
    with httpx.Client(base_url=server.url, timeout=30) as client:
        first = [upload(client, seed) for seed in range(10)]
        assert pending_jobs(server) == len(first)
        with supervisor(server, "--processes", "2") as (parent, log):
            wait_until(lambda: len(children_of(parent.pid)) == 2, 30, "2 worker processes")
            busy: set[int] = set()

            def claimed() -> bool:
                busy.update(lease_holders(server) & children_of(parent.pid))
                return bool(busy)

            wait_until(claimed, 30, "a worker process to claim a job")
            victim = min(busy)
            os.kill(victim, signal.SIGKILL)  # mid-job: its lease must not be lost
            wait_until(
                lambda: len(children_of(parent.pid) - {victim}) == 2,
                30,
                "the killed worker process to be replaced",
            )
            assert "was killed by signal 9 after" in log.read_text()
            second = [upload(client, seed) for seed in range(10, 14)]

            def all_ready() -> bool:
                statuses = [
                    client.get(f"/api/v1/images/{i}").json()["status"] for i in first + second
                ]
                assert "failed" not in statuses
                return all(s == "ready" for s in statuses)

            wait_until(all_ready, 120, "every image to be processed")
            assert pending_jobs(server) == 0

            workers = children_of(parent.pid)
            assert len(workers) == 2
            parent.send_signal(signal.SIGTERM)
            assert parent.wait(timeout=30) == 0, log.read_text()
            wait_until(lambda: not any(alive(p) for p in workers), 10, "every worker to exit")


def test_gives_up_when_workers_keep_failing_at_start(tmp_path: Path) -> None:
    # no `db upgrade`: every worker process dies as it looks for its jobs table
    with supervisor(Server(tmp_path), "--processes", "2") as (parent, log):
        parent.wait(timeout=60)
        assert parent.returncode != 0
        text = log.read_text()
        assert "times in a row" in text
        assert "giving up" in text
        assert "could not start" in text  # exit status 3: a failed start, however slow
        assert children_of(parent.pid) == set()
