"""Turning errors into responses: ``{"error": {"code", "message"}}`` for the API, an HTML
page for browsers."""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, RedirectResponse, Response

from pixstash.errors import AuthenticationRequired, BackendUnavailable, PixstashError
from pixstash.telemetry import prometheus
from pixstash.telemetry.base import backend_label
from pixstash.telemetry.context import bound
from pixstash.web.telemetry import ERROR_CODE_KEY, REQUEST_ID_KEY

log = logging.getLogger(__name__)

_HTTP_CODES = {
    400: "invalid-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    413: "file-too-large",
    415: "unsupported-media-type",
    429: "rate-limited",
}


def error_response(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def wants_html(request: Request) -> bool:
    path = request.url.path
    if path.startswith("/api/") or path in ("/oembed", "/healthz", "/readyz"):
        return False
    return "text/html" in request.headers.get("accept", "")


def is_page(request: Request) -> bool:
    """A browser page (not the API, nor a machine endpoint)."""
    path = request.url.path
    return not path.startswith(("/api/", "/3/")) and path not in ("/oembed", "/healthz", "/readyz")


async def handle_pixstash_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PixstashError)
    request.scope[ERROR_CODE_KEY] = exc.code
    if isinstance(exc, BackendUnavailable):
        prometheus.BACKEND_ERRORS.labels(backend_label(exc)).inc()
    if isinstance(exc, AuthenticationRequired) and is_page(request):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?{urlencode({'next': target})}", status_code=303)
    if exc.status >= 500:
        log.error("%s %s failed: %s", request.method, request.url.path, exc, exc_info=exc)
    response: Response
    if wants_html(request):
        from pixstash.web.pages.render import render_error

        response = render_error(request, exc.status, exc.message)
    else:
        response = error_response(exc.status, exc.code, exc.message)
    if exc.retry_after is not None:
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


async def handle_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http-error")
    request.scope[ERROR_CODE_KEY] = code
    message = exc.detail if isinstance(exc.detail, str) else "Request failed."
    if exc.status_code == 404:
        message = "Nothing lives at this address."
    if wants_html(request):
        from pixstash.web.pages.render import render_error

        return render_error(request, exc.status_code, message)
    return error_response(exc.status_code, code, message)


async def handle_validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {}
    where = ".".join(str(p) for p in first.get("loc", ()))
    request.scope[ERROR_CODE_KEY] = "invalid-request"
    return error_response(
        400, "invalid-request", f"Invalid {where or 'request'}: {first.get('msg', 'bad value')}."
    )


async def handle_unexpected(request: Request, exc: Exception) -> Response:
    # Starlette runs this outside the app's middleware: bind and answer the request id here
    request_id = request.scope.get(REQUEST_ID_KEY)
    with bound(request_id=request_id):
        log.exception("unhandled error on %s %s", request.method, request.url.path)
    response = error_response(500, "internal-error", "Something went wrong on our side; try again.")
    if request_id:
        response.headers["X-Request-ID"] = request_id
    return response


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(PixstashError, handle_pixstash_error)
    app.add_exception_handler(StarletteHTTPException, handle_http_error)
    app.add_exception_handler(RequestValidationError, handle_validation_error)
    app.add_exception_handler(Exception, handle_unexpected)
