"""The hostile-input battery, in process: every case is answered 201 or 4xx with an
error code within 5 s, its processing job ends ready or failed, and no served byte
holds a payload (issue 6, item 4). The RSS criterion needs a real server:
tests/hostile/test_server.py."""

from __future__ import annotations

import itertools
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from tests.helpers import container_of, drain_jobs
from tests.hostile import battery, corpus
from tests.hostile.battery import send_all

pytestmark = [pytest.mark.anyio, pytest.mark.db_backends("sqlite")]

WITHIN_LIMITS = {
    "bomb/png-idat-bomb-in-budget",  # 25 MP, 200 KB on the wire
    "bomb/jpeg-sof-65500x1",  # a 65500x1 JPEG is fine; its scan data is not
    "bomb/gif-anim-at-budget",  # 1000 frames of 220x220
    "bomb/apng-anim-at-budget",
    "bomb/webp-anim-at-budget",
}
MUTANT_GROUPS = {
    source: tuple(cases)
    for source, cases in itertools.groupby(corpus.mutants(), lambda c: c.name.split("/")[0])
}


def test_the_corpus_is_large_and_deterministic() -> None:
    assert len(corpus.mutants()) >= 500
    assert {name.split("-")[0] for name in MUTANT_GROUPS} == {"jpeg", "png", "gif", "webp"}
    names = [case.name for case in corpus.all_cases()]
    assert len(names) == len(set(names))
    rebuilt = corpus.mutants.__wrapped__()  # type: ignore[attr-defined]
    assert [c.data for c in rebuilt] == [c.data for c in corpus.mutants()]


@pytest.mark.parametrize("source", sorted(MUTANT_GROUPS))
async def test_mutants(app: FastAPI, client: httpx.AsyncClient, source: str) -> None:
    report = await send_all(client, MUTANT_GROUPS[source])
    await drain_jobs(container_of(app))
    await battery.check_served(client, report)
    report.assert_clean()
    assert 201 in report.statuses  # a battery that refuses everything proves little


async def test_polyglots_never_serve_their_payload(app: FastAPI, client: httpx.AsyncClient) -> None:
    report = await send_all(client, corpus.polyglots())
    await drain_jobs(container_of(app))
    await battery.check_served(client, report, extra_extensions=("jpg", "png", "gif", "webp"))
    report.assert_clean()
    refused = {"polyglot/html-only", "polyglot/zip-only", "polyglot/gif89a-php-raw"}
    assert refused.isdisjoint(report.accepted)
    assert len(report.accepted) >= 15  # the images themselves are fine: served, cleaned


async def test_bombs_are_refused_early(app: FastAPI, client: httpx.AsyncClient) -> None:
    report = await send_all(client, corpus.bombs())
    await drain_jobs(container_of(app))
    await battery.check_served(client, report)
    report.assert_clean()
    # Only the bombs within every limit may be accepted (and are then processed).
    assert set(report.accepted) <= WITHIN_LIMITS


async def test_hostile_file_names(app: FastAPI, client: httpx.AsyncClient, tmp_path: Path) -> None:
    report = await send_all(client, corpus.hostile_names(), multipart=True)
    await drain_jobs(container_of(app))
    await battery.check_served(client, report)
    report.assert_clean()
    assert len(report.accepted) == len(corpus.hostile_names())
    for _case, created in report.accepted.values():
        assert set(created) >= {"id", "links"}
    written = [p.name for p in tmp_path.parent.rglob("*") if p.is_file()]
    assert not [n for n in written if n.endswith((".php", ".html", ".exe", "passwd"))]
