"""The upload floor: a bare ASGI app that only streams the request body to a temp file.

Served by the same stack as pixstash (granian, ASGI, one worker), it is what an upload
costs before any application work (no parsing, hashing, database or storage layout):
pixstash's upload rate is reported as a share of this one. ``GET /healthz`` answers 200.
Temp files go to ``$BENCH_FLOOR_TMP`` (default: the system temp dir).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_JSON = [(b"content-type", b"application/json")]


async def app(scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
    elif scope["type"] == "http":
        if scope["method"] == "GET" and scope["path"] == "/healthz":
            await _answer(send, 200, {"status": "ok"})
        elif scope["method"] == "POST":
            await _store_body(receive, send)
        else:
            await _answer(send, 405, {"error": "method not allowed"})


async def _store_body(receive: Receive, send: Send) -> None:
    size = 0
    # delete=True: the file goes when closed, like a staged upload that was consumed
    with tempfile.NamedTemporaryFile(dir=os.environ.get("BENCH_FLOOR_TMP"), prefix="floor-") as f:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk: bytes = message.get("body", b"")
            f.write(chunk)
            size += len(chunk)
            if not message.get("more_body", False):
                break
        f.flush()  # the bytes reach the kernel (no fsync, as pixstash does not either)
    await _answer(send, 201, {"size": size})


async def _answer(send: Send, status: int, payload: dict[str, Any]) -> None:
    body = json.dumps(payload).encode()
    headers = [*_JSON, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
