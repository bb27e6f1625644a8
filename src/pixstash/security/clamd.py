"""``clamd://``: ClamAV's daemon, sent each file with INSTREAM (through clamdpy).

``clamd:///run/clamav/clamd.ctl`` is a unix socket, ``clamd://127.0.0.1:3310`` TCP.
Each scan opens its own connection, so one scanner serves any number of concurrent
uploads; the blocking client runs in worker threads.

clamd closes the connection once a stream passes its ``StreamMaxLength``: that, a
timeout and an unreachable daemon all mean "no verdict", raised as ScannerUnavailable
(the upload service then fails closed, or open when configured so).
"""

from __future__ import annotations

import logging
import socket
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import anyio
import anyio.to_thread
from clamdpy import ClamdNetworkSocket, ClamdUnixSocket
from clamdpy.exceptions import BufferTooLongError, ClamdException
from clamdpy.exceptions import ConnectionError as ClamdConnectionError

from pixstash.errors import ConfigurationError, ScannerUnavailable
from pixstash.security.base import Verdict

log = logging.getLogger(__name__)

DEFAULT_PORT = 3310
# clamd refuses a chunk longer than its StreamMaxLength; 64 KiB is far below any sane one
CHUNK_BYTES = 64 * 1024


class ClamdScanner:
    name = "clamd"

    def __init__(self, client: ClamdNetworkSocket, *, where: str, timeout: float) -> None:
        self.client = client
        self.where = where  # for logs only: the socket path or host:port
        self.timeout = timeout

    @classmethod
    def from_url(cls, url: str, *, timeout: float = 30.0, **_: Any) -> ClamdScanner:
        parts = urlsplit(url)
        if parts.netloc:
            if parts.path not in ("", "/") or not parts.hostname:
                raise ConfigurationError(
                    f"Invalid scanner URL {url!r}: use clamd://HOST:PORT (TCP) or "
                    "clamd:///path/to/clamd.sock (unix socket)."
                )
            try:
                port = parts.port or DEFAULT_PORT
            except ValueError as exc:
                raise ConfigurationError(f"Invalid port in scanner URL {url!r}.") from exc
            client: ClamdNetworkSocket = _TcpClient(
                parts.hostname, port, timeout=timeout, max_chunk_size=CHUNK_BYTES
            )
            return cls(client, where=f"{parts.hostname}:{port}", timeout=timeout)
        if not parts.path.startswith("/"):
            raise ConfigurationError(
                f"Invalid scanner URL {url!r}: a unix socket needs an absolute path, "
                "e.g. clamd:///run/clamav/clamd.ctl."
            )
        client = _UnixClient(parts.path, timeout=timeout, max_chunk_size=CHUNK_BYTES)
        return cls(client, where=parts.path, timeout=timeout)

    async def scan(self, path: Path) -> Verdict:
        try:
            with anyio.fail_after(self.timeout):
                # abandoned on timeout: the thread ends at its socket timeout
                return await anyio.to_thread.run_sync(self._scan_file, path, abandon_on_cancel=True)
        except TimeoutError:
            log.warning("clamd at %s gave no verdict within %g s", self.where, self.timeout)
            raise ScannerUnavailable(
                f"The malware scanner did not answer within {self.timeout:g} s; retry shortly."
            ) from None

    def _scan_file(self, path: Path) -> Verdict:
        try:
            with open(path, "rb") as handle:
                result = self.client.instream(handle)
        except (BufferTooLongError, BrokenPipeError, ConnectionResetError) as exc:
            # clamd hangs up once a stream passes StreamMaxLength (sometimes before it
            # can say so): the file is larger than this clamd takes
            log.error(
                "clamd at %s refused a %d-byte stream (%s): set its StreamMaxLength to at "
                "least PIXSTASH_MAX_UPLOAD_BYTES",
                self.where,
                path.stat().st_size,
                exc,
            )
            raise ScannerUnavailable(
                "The malware scanner could not take a file this large; retry later or "
                "upload a smaller file."
            ) from exc
        except (ClamdException, OSError) as exc:
            log.warning("clamd at %s is unavailable: %s", self.where, _describe(exc))
            raise ScannerUnavailable() from exc
        if result.status == "FOUND":
            return Verdict(clean=False, signature=result.reason or "unknown")
        if result.status == "OK":
            return Verdict(clean=True)
        log.warning("clamd at %s could not scan a file: %s", self.where, result.reason)
        raise ScannerUnavailable()

    async def check(self) -> None:
        try:
            with anyio.fail_after(self.timeout):
                answer = await anyio.to_thread.run_sync(self.client.ping, abandon_on_cancel=True)
        except TimeoutError:
            raise ScannerUnavailable(f"clamd did not answer within {self.timeout:g} s") from None
        except (ClamdException, OSError) as exc:
            raise ScannerUnavailable(f"clamd: {_describe(exc)}") from exc
        if answer.strip() != "PONG":
            raise ScannerUnavailable(f"clamd answered {answer[:40]!r} to PING")

    async def close(self) -> None:
        """Nothing to release: every call has its own connection."""


# clamdpy 0.2 leaves the socket of a failed connect to the garbage collector (a
# ResourceWarning for every try while clamd is down); these close it.


class _TcpClient(ClamdNetworkSocket):
    def _acquire_socket(self) -> socket.socket:
        try:
            return socket.create_connection((self.host, self.port), timeout=self.timeout)
        except OSError as exc:
            raise ClamdConnectionError(
                f"cannot connect to {self.host}:{self.port}: {exc.strerror or exc}"
            ) from exc


class _UnixClient(ClamdUnixSocket):
    def _acquire_socket(self) -> socket.socket:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(self.timeout)
            sock.connect(str(self.socket_path))
        except OSError as exc:
            sock.close()
            raise ClamdConnectionError(
                f"cannot connect to {self.socket_path}: {exc.strerror or exc}"
            ) from exc
        return sock


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ClamdConnectionError):
        return exc.msg
    return str(exc) or type(exc).__name__
