"""A real ClamAV daemon for tests (Debian's clamav-daemon), on a unix socket in a temp
directory and on a free TCP port of 127.0.0.1, loading only the signatures in
tests/clamav/ (no download, no freshclam):

- ``pixstash-test.hdb``: EICAR by its MD5 (tests make the file from its public string);
- ``pixstash-test.ldb``: ``<script`` or ``<?php`` (any case) anywhere in a file that
  starts like a GIF, PNG or JPEG: the script-in-image polyglot. A logical signature,
  because an .ndb body signature cannot be case-insensitive (its alternations need two
  fixed bytes before them).

Without clamd installed the tests that need it skip loudly; under CI=true they fail
(.ci/run installs clamav-daemon).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

SIGNATURES = Path(__file__).parent / "clamav"
# The well-known, harmless antivirus test string; assembled here, never stored as a file.
EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
STREAM_MAX_BYTES = 4 * 1024 * 1024  # StreamMaxLength of the test daemon
START_SECONDS = 30.0


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def find_clamd() -> str:
    found = shutil.which("clamd") or next(
        (p for p in ("/usr/sbin/clamd", "/usr/local/sbin/clamd") if os.access(p, os.X_OK)), None
    )
    if found is None:
        reason = "clamd is not installed (apt-get install clamav-daemon)"
        if in_ci():
            pytest.fail(f"CI=true needs clamd: {reason}", pytrace=False)
        pytest.skip(f"!!! CLAMD TESTS SKIPPED: {reason} !!!")
    return found


def ping(socket_path: Path, timeout: float = 1.0) -> bool:
    """True when clamd answers PONG on ``socket_path``."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(str(socket_path))
            sock.sendall(b"nPING\n")
            return sock.recv(16).strip() == b"PONG"
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ClamdServer:
    """One clamd process; ``url`` is its ``clamd:///...`` scanner URL."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.socket_path = root / "clamd.sock"
        self.log_path = root / "clamd.log"
        self.tcp_port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"clamd://{self.socket_path}"

    @property
    def tcp_url(self) -> str:
        return f"clamd://127.0.0.1:{self.tcp_port}"

    def start(self) -> None:
        executable = find_clamd()
        database = self.root / "db"
        database.mkdir(parents=True)
        for name in ("pixstash-test.hdb", "pixstash-test.ldb"):
            shutil.copyfile(SIGNATURES / name, database / name)
        config = self.root / "clamd.conf"
        config.write_text(
            "\n".join(
                [
                    "Foreground yes",
                    f"DatabaseDirectory {database}",
                    f"LocalSocket {self.socket_path}",
                    "LocalSocketMode 600",
                    "TCPAddr 127.0.0.1",
                    f"TCPSocket {self.tcp_port}",
                    f"PidFile {self.root / 'clamd.pid'}",
                    f"TemporaryDirectory {self.root}",
                    f"LogFile {self.log_path}",
                    f"StreamMaxLength {STREAM_MAX_BYTES // (1024 * 1024)}M",
                    "MaxThreads 4",
                    "Bytecode no",
                    "",
                ]
            )
        )
        self.process = subprocess.Popen(
            [executable, "--config-file", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        self._wait_ready()

    def _wait_ready(self) -> None:
        """Poll PING; waiting on the process between tries also notices a crash."""
        assert self.process is not None
        deadline = time.monotonic() + START_SECONDS
        while not ping(self.socket_path):
            try:
                code = self.process.wait(timeout=0.05)
            except subprocess.TimeoutExpired:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(
                        f"clamd not ready in {START_SECONDS} s: {self.log()}"
                    ) from None
                continue
            raise RuntimeError(f"clamd exited with {code}: {self.log()}")

    def log(self) -> str:
        return self.log_path.read_text()[-2000:] if self.log_path.exists() else "(no log)"

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
