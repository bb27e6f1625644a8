"""Imgur's envelope, for answers and for errors, scoped to the ``/3/`` routes.

Every answer is ``{"data": ..., "success": true, "status": 200}``; every error
``{"data": {"error": "<message>", "request": "/3/image", "method": "POST"}, "success":
false, "status": N}`` with the same N as the HTTP status. pixstash's stable error code
rides along as ``data.code`` (Imgur clients ignore it).

``ImgurRoute`` turns errors into that shape inside the route (dependencies and body
validation included), so the app's global handlers, and the native API's
``{"error": {"code", "message"}}``, stay as they are. It also adds Imgur's rate-limit
headers (``web.imgur.limits``) to every answer, errors included.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from pixstash.errors import BackendUnavailable, PixstashError
from pixstash.telemetry import prometheus
from pixstash.telemetry.base import backend_label
from pixstash.web.imgur.limits import imgur_rate_headers
from pixstash.web.telemetry import ERROR_CODE_KEY

log = logging.getLogger(__name__)

_HTTP_MESSAGES = {
    404: "Nothing lives at this address; see the Imgur API v3 endpoints pixstash serves "
    "(docs/API.md).",
    405: "This method is not allowed here.",
}


def envelope(data: Any, status: int = 200) -> dict[str, Any]:
    return {"data": data, "success": True, "status": status}


def ok(data: Any, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(envelope(data), headers={"Cache-Control": "no-store", **(headers or {})})


def error_response(request: Request, status: int, message: str, code: str) -> JSONResponse:
    body = {
        "data": {
            "error": message,
            "code": code,
            "request": request.url.path,
            "method": request.method,
        },
        "success": False,
        "status": status,
    }
    return JSONResponse(body, status_code=status, headers={"Cache-Control": "no-store"})


def imgur_error(request: Request, exc: Exception) -> Response:
    """The Imgur-shaped answer to any exception raised while serving a /3/ route."""
    if isinstance(exc, PixstashError):
        request.scope[ERROR_CODE_KEY] = exc.code
        if isinstance(exc, BackendUnavailable):
            prometheus.BACKEND_ERRORS.labels(backend_label(exc)).inc()
        if exc.status >= 500:
            log.error("%s %s failed: %s", request.method, request.url.path, exc, exc_info=exc)
        response = error_response(request, exc.status, exc.message, exc.code)
        if exc.retry_after is not None:
            response.headers["Retry-After"] = str(exc.retry_after)
        return response
    if isinstance(exc, RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        request.scope[ERROR_CODE_KEY] = "invalid-request"
        message = f"Invalid {where or 'request'}: {first.get('msg', 'bad value')}."
        return error_response(request, 400, message, "invalid-request")
    if isinstance(exc, HTTPException):
        detail = exc.detail if isinstance(exc.detail, str) else "Request failed."
        message = _HTTP_MESSAGES.get(exc.status_code, detail)
        request.scope[ERROR_CODE_KEY] = "http-error"
        return error_response(request, exc.status_code, message, "http-error")
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    request.scope[ERROR_CODE_KEY] = "internal-error"
    return error_response(
        request, 500, "Something went wrong on our side; try again.", "internal-error"
    )


class ImgurRoute(APIRoute):
    """A route of the Imgur API: Imgur-shaped errors and rate-limit headers."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def imgur_handler(request: Request) -> Response:
            try:
                response = await handler(request)
            except Exception as exc:  # every error becomes an Imgur answer
                response = imgur_error(request, exc)
            response.headers.update(imgur_rate_headers(request))
            return response

        return imgur_handler
