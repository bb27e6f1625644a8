"""A TCP forwarder on loopback that a test puts between pixstash and one backend, to make
that backend unreachable without touching the machine's shared services.

``down()`` resets every open connection and, until ``up()``, resets each new one as soon
as it is accepted: clients fail at once, as with a crashed server or a refused port.
``stall()`` resets the open connections too but accepts new ones and never answers (a
hung server): clients find out only through their own timeouts. The listening port stays
the proxy's throughout, so ``up()`` serves on the very same port and nothing else can
take it meanwhile. asyncio runs in a thread of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
from collections.abc import Coroutine
from typing import Any, Literal

_RESET = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends RST, not FIN


class FaultProxy:
    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.mode: Literal["up", "down", "stalled"] = "up"
        self._writers: set[asyncio.StreamWriter] = set()  # forwarded connections
        self._stalled: set[asyncio.StreamWriter] = set()  # accepted, never answered
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._server = self._call(asyncio.start_server(self._accept, "127.0.0.1", 0))
        self.port: int = self._server.sockets[0].getsockname()[1]

    def down(self) -> None:
        """Reset every connection; refuse (reset) new ones until ``up()``."""
        self._call(self._set("down"))

    def stall(self) -> None:
        """Reset every connection; accept new ones but never answer until ``up()``."""
        self._call(self._set("stalled"))

    def up(self) -> None:
        self._call(self._set("up"))

    def close(self) -> None:
        self._call(self._set("down"))
        self._server.close()
        self._call(self._settle())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def _call(self, work: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(work, self._loop).result(10)

    async def _set(self, mode: Literal["up", "down", "stalled"]) -> None:
        self.mode = mode
        for writer in list(self._stalled) + (list(self._writers) if mode != "up" else []):
            _reset(writer)

    async def _settle(self) -> None:
        """Let the handlers of the connections just reset finish."""
        others = asyncio.all_tasks() - {asyncio.current_task()}
        if others:
            await asyncio.wait(others, timeout=5)

    async def _accept(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        if self.mode == "down":
            _reset(client_w)
            return
        if self.mode == "stalled":
            self._stalled.add(client_w)
            try:  # swallow what the client sends until it gives up (or we reset it)
                with contextlib.suppress(OSError, RuntimeError):
                    while await client_r.read(65536):
                        pass
            finally:
                self._stalled.discard(client_w)
                client_w.close()
            return
        try:
            backend_r, backend_w = await asyncio.open_connection(*self.target)
        except OSError:
            _reset(client_w)
            return
        if self.mode != "up":  # went down while we connected
            _reset(client_w)
            _reset(backend_w)
            return
        pair = {client_w, backend_w}
        self._writers |= pair
        try:
            await asyncio.gather(_pipe(client_r, backend_w), _pipe(backend_r, client_w))
        finally:
            self._writers -= pair
            for writer in pair:
                writer.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy until end of stream and pass the end on; a reset is passed on as a reset."""
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (OSError, RuntimeError):
        _reset(writer)


def _reset(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET)
    writer.transport.abort()
