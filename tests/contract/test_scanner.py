"""One contract for every Scanner backend (none, clamd on a unix socket, clamd over TCP),
then the verdicts only a real scanner gives. clamd is the session's test daemon
(tests/clamd.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest

from pixstash.security.base import Scanner, Verdict
from pixstash.security.clamd import ClamdScanner
from pixstash.security.noscan import NoScanner
from tests import imagegen
from tests.clamd import EICAR, ClamdServer

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["none", "clamd-unix", "clamd-tcp"])
async def scanner(request: pytest.FixtureRequest) -> AsyncIterator[Scanner]:
    backend: Scanner
    if request.param == "none":
        backend = NoScanner.from_url("none://")
    else:
        server: ClamdServer = request.getfixturevalue("clamd")
        url = server.url if request.param == "clamd-unix" else server.tcp_url
        backend = ClamdScanner.from_url(url, timeout=10)
    yield backend
    await backend.close()


def write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "upload"
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    "data",
    [imagegen.jpeg_bytes(64, 48), imagegen.png_alpha_bytes(), imagegen.gif_bytes(2), b"text"],
    ids=["jpeg", "png", "gif", "text"],
)
async def test_clean_files_are_clean(scanner: Scanner, tmp_path: Path, data: bytes) -> None:
    assert await scanner.scan(write(tmp_path, data)) == Verdict(clean=True, signature=None)


async def test_is_ready_and_named(scanner: Scanner) -> None:
    await scanner.check()
    assert scanner.name in ("none", "clamd")


async def test_scans_concurrently(scanner: Scanner, tmp_path: Path) -> None:
    path = write(tmp_path, imagegen.jpeg_bytes(64, 48))
    verdicts: list[Verdict] = []

    async def one() -> None:
        verdicts.append(await scanner.scan(path))

    async with anyio.create_task_group() as tg:
        for _ in range(8):
            tg.start_soon(one)
    assert verdicts == [Verdict(clean=True)] * 8


async def test_none_passes_everything(tmp_path: Path) -> None:
    """``none`` is no scanner: even EICAR is clean to it (re-encoding is the defence)."""
    assert await NoScanner().scan(write(tmp_path, EICAR)) == Verdict(clean=True)


@pytest.mark.parametrize("where", ["unix", "tcp"])
async def test_clamd_names_what_it_found(clamd: ClamdServer, tmp_path: Path, where: str) -> None:
    scanner = ClamdScanner.from_url(clamd.url if where == "unix" else clamd.tcp_url, timeout=10)
    verdict = await scanner.scan(write(tmp_path, EICAR))
    assert verdict == Verdict(clean=False, signature="Pixstash.Test.EICAR.UNOFFICIAL")
