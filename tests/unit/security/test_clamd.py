"""The clamd adapter: its URLs, and how every way of getting no verdict becomes
ScannerUnavailable (the upload service decides what that means)."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pixstash.config import Settings
from pixstash.errors import ConfigurationError, ScannerUnavailable
from pixstash.security.clamd import DEFAULT_PORT, ClamdScanner
from pixstash.security.noscan import NoScanner
from pixstash.wiring import build_scanner
from tests.clamd import EICAR, STREAM_MAX_BYTES, ClamdServer

pytestmark = pytest.mark.anyio


def test_unix_socket_and_tcp_urls() -> None:
    unix = ClamdScanner.from_url("clamd:///run/clamav/clamd.ctl", timeout=5)
    assert unix.where == "/run/clamav/clamd.ctl"
    tcp = ClamdScanner.from_url("clamd://10.0.0.7:3311", timeout=5)
    assert tcp.where == "10.0.0.7:3311"
    assert ClamdScanner.from_url("clamd://scanner", timeout=5).where == f"scanner:{DEFAULT_PORT}"


@pytest.mark.parametrize(
    "url", ["clamd://", "clamd://host:3310/extra", "clamd://host:port", "clamd:relative.sock"]
)
def test_bad_urls_are_refused_at_start(url: str) -> None:
    with pytest.raises(ConfigurationError):
        ClamdScanner.from_url(url, timeout=5)


@pytest.mark.parametrize("url", ["none", "NONE", " none ", "none://"])
def test_none_is_the_default_and_its_spellings(url: str) -> None:
    assert Settings(environment="test").scanner_url == "none"
    assert isinstance(build_scanner(Settings(environment="test", scanner_url=url)), NoScanner)


def test_unknown_scheme_lists_the_valid_ones() -> None:
    with pytest.raises(ConfigurationError, match=r"clamd://, none://"):
        build_scanner(Settings(environment="test", scanner_url="icap://av:1344"))


def test_settings_reach_the_scanner() -> None:
    scanner = build_scanner(
        Settings(environment="test", scanner_url="clamd://av:3310", scanner_timeout_seconds=7)
    )
    assert isinstance(scanner, ClamdScanner)
    assert scanner.timeout == 7


async def test_missing_socket_is_unavailable(tmp_path: Path) -> None:
    scanner = ClamdScanner.from_url(f"clamd://{tmp_path}/gone.sock", timeout=5)
    (tmp_path / "f").write_bytes(b"data")
    with pytest.raises(ScannerUnavailable):
        await scanner.scan(tmp_path / "f")
    with pytest.raises(ScannerUnavailable, match="clamd"):
        await scanner.check()


@pytest.fixture
def silent_socket(tmp_path: Path) -> Iterator[Path]:
    """A unix socket that takes connections (into its backlog) and never answers: a
    hung clamd."""
    path = tmp_path / "hung.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(str(path))
        listener.listen(16)
        yield path


async def test_a_hung_clamd_is_unavailable_within_the_timeout(
    silent_socket: Path, tmp_path: Path
) -> None:
    scanner = ClamdScanner.from_url(f"clamd://{silent_socket}", timeout=0.3)
    (tmp_path / "f").write_bytes(b"data")
    started = time.monotonic()
    with pytest.raises(ScannerUnavailable, match=r"within 0\.3 s"):
        await scanner.scan(tmp_path / "f")
    with pytest.raises(ScannerUnavailable):
        await scanner.check()
    assert time.monotonic() - started < 3


async def test_a_file_past_stream_max_length_is_unavailable_not_clean(
    clamd: ClamdServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    big = tmp_path / "big"
    big.write_bytes(EICAR + os.urandom(STREAM_MAX_BYTES + 1024))
    scanner = ClamdScanner.from_url(clamd.url, timeout=10)
    with pytest.raises(ScannerUnavailable, match="this large"):
        await scanner.scan(big)
    assert "StreamMaxLength" in caplog.text


async def test_check_pings(clamd: ClamdServer) -> None:
    await ClamdScanner.from_url(clamd.url, timeout=5).check()
