"""The hostile battery against a real ``pixstash serve``: the bombs, the polyglots and a
sample of the mutants, one at a time, each processed before the next; the server's
resident memory (every process of its group, summed) stays under 512 MB throughout."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import Server, wait_until
from tests.hostile import corpus
from tests.hostile.battery import MAX_SECONDS, Report, judge_answer, served_markers

pytestmark = pytest.mark.e2e

MAX_RSS_BYTES = 512 * 1024 * 1024
MUTANT_SAMPLE_STEP = 15  # every 15th mutant: ~60 of them, all four formats


def group_rss(pgid: int) -> int:
    """Resident bytes of every process in the process group ``pgid``."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            if int(stat.rsplit(")", 1)[1].split()[2]) != pgid:  # field 5: pgrp
                continue
            status = (entry / "status").read_text()
        except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
            continue  # exited meanwhile
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) * 1024
    return total


class Watch:
    """The highest RSS seen, and the cases that made it grow most (for the message)."""

    def __init__(self, pgid: int) -> None:
        self.pgid = pgid
        self.peak = (0, "start")
        self.last = group_rss(pgid)
        self.growth: dict[str, int] = {}

    def sample(self, case_name: str) -> None:
        rss = group_rss(self.pgid)
        self.peak = max(self.peak, (rss, case_name))
        self.growth[case_name] = self.growth.get(case_name, 0) + rss - self.last
        self.last = rss

    def explain(self) -> str:
        top = sorted(self.growth.items(), key=lambda item: -item[1])[:5]
        grew = ", ".join(f"{name} +{size / 2**20:.0f} MB" for name, size in top)
        return f"peak {self.peak[0] / 2**20:.0f} MB at {self.peak[1]}; grew most: {grew}"


@pytest.fixture
def hostile_server(tmp_path: Path) -> Iterator[Server]:
    running = Server(
        tmp_path,
        env_overrides={
            "PIXSTASH_RATE_LIMIT_ANONYMOUS_UPLOADS": "",
            "PIXSTASH_LOG_LEVEL": "error",
        },
    )
    try:
        running.start("--workers", "1")
        yield running
    finally:
        running.kill()


def test_memory_stays_bounded_under_hostile_uploads(hostile_server: Server) -> None:
    process = hostile_server.process
    assert process is not None
    watch = Watch(os.getpgid(process.pid))
    cases = corpus.bombs() + corpus.polyglots() + corpus.mutants()[::MUTANT_SAMPLE_STEP]
    report = Report()
    with httpx.Client(base_url=hostile_server.url, timeout=30) as client:
        for case in cases:
            started = time.perf_counter()
            response = client.post("/api/v1/images", content=case.data)
            judge_answer(report, case, response, time.perf_counter() - started)
            watch.sample(case.name)
            if response.status_code == 201:
                _finish(client, report, case, response.json()["id"], watch)
    report.assert_clean()
    assert watch.peak[0] < MAX_RSS_BYTES, watch.explain()
    assert len(report.accepted) >= 20


def _finish(
    client: httpx.Client, report: Report, case: corpus.Case, image_id: str, watch: Watch
) -> None:
    """Wait for the job (sampling RSS meanwhile), then fetch the served media."""
    state = ""

    def processed() -> bool:
        nonlocal state
        watch.sample(case.name)
        state = client.get(f"/api/v1/images/{image_id}").json()["status"]
        return state in ("ready", "failed")

    wait_until(processed, 60, f"{case.name} to be processed")
    ext = {"image/jpeg": "jpg", "image/png": "png", "image/gif": "gif", "image/webp": "webp"}
    created_type = client.get(f"/api/v1/images/{image_id}").json()["type"]
    for suffix in ("", "t", "m", "l"):
        started = time.perf_counter()
        media = client.get(f"/{image_id}{suffix}.{ext[created_type]}")
        if time.perf_counter() - started > MAX_SECONDS:
            report.fail(case, f"media {suffix!r} took over {MAX_SECONDS}s")
        expected = 200 if state == "ready" else 404
        if media.status_code != expected:
            report.fail(case, f"{state}, media {suffix!r} answered {media.status_code}")
        if found := served_markers(media.content):
            report.fail(case, f"media {suffix!r} serves payload marker(s) {found}")
    watch.sample(case.name)
