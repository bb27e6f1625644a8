"""Request ids, upload metrics and ``GET /metrics``.

``RequestContextMiddleware`` (pure ASGI, in FastAPI's stack: cached media answered by
``web.fastpath`` never meet it) keeps a well-formed ``X-Request-ID`` from the client or
nginx or makes one, binds it to every log line of the request, answers it in the
response header (not on publicly cacheable answers: media), and measures upload
requests: result (status and error code, which the error handlers leave in the scope
under ``ERROR_CODE_KEY``), duration and body bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import AsyncIterator

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pixstash.jobs.base import JobQueue
from pixstash.telemetry import exposition, prometheus
from pixstash.telemetry.context import accepted_request_id, bound, new_request_id

log = logging.getLogger("pixstash.web")
REQUEST_ID_KEY = "pixstash.request_id"
ERROR_CODE_KEY = "pixstash.error_code"
# Requests that create images (counted by result) and those whose body is an upload;
# /3/...: the Imgur-compatible API.
_RESULT_PATHS = re.compile(r"/api/v1/images|/api/v1/uploads/[^/]+/complete|/3/(image|upload)")
_BODY_PATHS = re.compile(r"/api/v1/images|/api/v1/uploads/[^/]+/data|/3/(image|upload)")
QUEUE_STATS_SECONDS = 5.0  # a scrape reads the queue's stats (a DB query) at most this often
FLUSH_SECONDS = 1.0


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _incoming_request_id(scope) or new_request_id()
        scope[REQUEST_ID_KEY] = request_id
        upload = scope["method"] == "POST" and _RESULT_PATHS.fullmatch(scope["path"]) is not None
        if scope["method"] == "POST" and _BODY_PATHS.fullmatch(scope["path"]):
            receive = _counting(receive)
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = MutableHeaders(scope=message)
                # not on answers caches share (media): the id is of one request only
                if not headers.get("cache-control", "").startswith("public"):
                    headers["x-request-id"] = request_id
            await send(message)

        started = time.perf_counter()
        with bound(request_id=request_id):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                if upload:
                    _record_upload(scope, status, time.perf_counter() - started)


def _incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            return accepted_request_id(value.decode("latin-1"))
    return None


def _counting(receive: Receive) -> Receive:
    async def counted() -> Message:
        message = await receive()
        if message["type"] == "http.request":
            prometheus.UPLOAD_BYTES.inc(len(message.get("body", b"")))
        return message

    return counted


def _record_upload(scope: Scope, status: int, seconds: float) -> None:
    code = "created" if status < 400 else scope.get(ERROR_CODE_KEY)
    if code is None:  # an answer our error handlers did not make
        code = "internal-error" if status >= 500 else f"http-{status}"
    prometheus.UPLOADS.labels(str(status), code).inc()
    prometheus.UPLOAD_SECONDS.observe(seconds)
    log.info("upload answered %d %s in %.1f ms", status, code, seconds * 1000)


class QueueStats:
    """The queue's ``stats()``, read at most every ``ttl`` seconds by this process's
    scrapes (None while the queue cannot tell: the gauges are left out)."""

    def __init__(self, queue: JobQueue, ttl: float = QUEUE_STATS_SECONDS) -> None:
        self.queue = queue
        self.ttl = ttl
        self._value: dict[str, int] | None = None
        self._until = 0.0

    async def get(self) -> dict[str, int] | None:
        now = time.monotonic()
        if now >= self._until:
            try:
                self._value = await asyncio.wait_for(self.queue.stats(), 3.0)
            except Exception as exc:  # the backend is down: the scrape still answers
                log.warning("no job queue stats for /metrics: %s", exc)
                self._value = None
            self._until = now + self.ttl
        return self._value


async def metrics_endpoint(request: Request) -> Response:
    prometheus.flush_hot_path()
    stats: QueueStats | None = getattr(request.app.state, "queue_stats", None)
    gauges = exposition.queue_gauges(await stats.get() if stats is not None else None)
    return Response(exposition.render(gauges), media_type=exposition.CONTENT_TYPE)


@contextlib.asynccontextmanager
async def flushing_hot_path() -> AsyncIterator[None]:
    """Move the fast path's counts into the shared counters every second, so a scrape
    answered by another process sees them."""

    async def loop() -> None:
        while True:
            await asyncio.sleep(FLUSH_SECONDS)
            prometheus.flush_hot_path()

    task = asyncio.create_task(loop(), name="pixstash-metrics-flush")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        prometheus.flush_hot_path()
