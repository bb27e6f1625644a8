"""Turning errors into responses: ``{"error": {"code", "message"}}`` for the API, an HTML
page for browsers."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response

from pixstash.errors import BackendUnavailable, PixstashError, UploadInProgress

log = logging.getLogger(__name__)

_HTTP_CODES = {
    400: "invalid-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    413: "file-too-large",
    415: "unsupported-media-type",
}


def error_response(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def wants_html(request: Request) -> bool:
    path = request.url.path
    if path.startswith("/api/") or path in ("/oembed", "/healthz", "/readyz"):
        return False
    return "text/html" in request.headers.get("accept", "")


async def handle_pixstash_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PixstashError)
    if exc.status >= 500:
        log.error("%s %s failed: %s", request.method, request.url.path, exc, exc_info=exc)
    response: Response
    if wants_html(request):
        from pixstash.web.pages.render import render_error

        response = render_error(request, exc.status, exc.message)
    else:
        response = error_response(exc.status, exc.code, exc.message)
    if isinstance(exc, BackendUnavailable | UploadInProgress):
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


async def handle_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http-error")
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
    return error_response(
        400, "invalid-request", f"Invalid {where or 'request'}: {first.get('msg', 'bad value')}."
    )


async def handle_unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(500, "internal-error", "Something went wrong on our side; try again.")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(PixstashError, handle_pixstash_error)
    app.add_exception_handler(StarletteHTTPException, handle_http_error)
    app.add_exception_handler(RequestValidationError, handle_validation_error)
    app.add_exception_handler(Exception, handle_unexpected)
