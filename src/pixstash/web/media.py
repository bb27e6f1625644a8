"""Media delivery (``/{id}{suffix}.{ext}``): the hot path, kept off FastAPI's
dependency machinery. Immutable caching, strong ETags, 304, Range and HEAD.

Behind nginx (``PIXSTASH_ACCEL_REDIRECT_PREFIX`` set), media on local disk are answered
with ``X-Accel-Redirect: <prefix><storage key>`` and the delivery headers but no body:
nginx sends the file itself (Range, HEAD and sendfile included). Media held in memory
or read from S3 are still sent by the app. deploy/nginx/pixstash.conf is the other half.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import FileResponse, Response

from pixstash.domain.variants import parse_media_name
from pixstash.errors import ImageNotFound
from pixstash.services.delivery import Media
from pixstash.telemetry import prometheus
from pixstash.wiring import Container

_HIT = prometheus.MEDIA_CACHE.labels("hit")
_MISS = prometheus.MEDIA_CACHE.labels("miss")
MEDIA_HEADERS = {
    "cache-control": "public, max-age=31536000, immutable",
    "x-content-type-options": "nosniff",
    "content-security-policy": "default-src 'none'; sandbox",
    "cross-origin-resource-policy": "cross-origin",
    "accept-ranges": "bytes",
}


async def media_endpoint(request: Request) -> Response:
    container: Container = request.app.state.container
    name: str = request.path_params["name"]
    media = container.media.cached(name)
    if media is None:
        parsed = parse_media_name(name)
        if parsed is None:
            raise ImageNotFound()
        _MISS.inc()
        media = await container.media.resolve(parsed.public_id, parsed.variant, parsed.output)
    else:
        _HIT.inc()  # a Range request, which the fast path leaves to this one
    response = media_response(request, media, accel_prefix=container.settings.accel_redirect_prefix)
    if response.status_code in (200, 206) and request.method == "GET":
        # a file (sent by Starlette, or by nginx after X-Accel-Redirect) or bytes in memory
        sent = media.variant.size if media.path is not None else len(response.body)
        prometheus.MEDIA_BYTES.inc(sent)
        # views: full-size GETs answered whole ("{id}.{ext}"); bandwidth: every byte
        container.views.count(name[:7], sent, view=response.status_code == 200 and name[7] == ".")
    return response


async def private_media_endpoint(request: Request) -> Response:
    """``/p/{name}?exp=&sig=``: a private image's media, by a signed URL (see
    services/private_links.py). A bad or expired signature is 404 like a missing image.
    Sent by the app itself (no X-Accel-Redirect: nginx's internal location lives on the
    media relay only), cacheable by the browser alone, until the URL expires."""
    container: Container = request.app.state.container
    name: str = request.path_params["name"]
    params = request.query_params
    remaining = container.private_links.remaining(name, params.get("exp"), params.get("sig"))
    parsed = parse_media_name(name)
    if remaining is None or parsed is None:
        raise ImageNotFound()
    media = await container.media.resolve_private(parsed.public_id, parsed.variant, parsed.output)
    response = media_response(request, media, cache_control=f"private, max-age={remaining}")
    response.headers["cross-origin-resource-policy"] = "same-origin"
    return response


def media_response(
    request: Request, media: Media, *, accel_prefix: str = "", cache_control: str | None = None
) -> Response:
    etag = f'"{media.variant.etag}"'
    headers = dict(MEDIA_HEADERS)
    if cache_control is not None:
        headers["cache-control"] = cache_control
    headers["etag"] = etag
    if _etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    if media.path is not None:
        if not media.path.is_file():  # deleted since it was resolved
            raise ImageNotFound()
        if accel_prefix:
            return _accel_redirect(media, accel_prefix, headers)
        return FileResponse(media.path, media_type=media.content_type, headers=headers)
    body = media.body or b""
    status = 200
    byte_range = request.headers.get("range")
    if byte_range is not None and _if_range_ok(request.headers.get("if-range"), etag):
        parsed = _single_range(byte_range, len(body))
        if parsed is None:
            headers["content-range"] = f"bytes */{len(body)}"
            return Response(status_code=416, headers=headers)
        start, end = parsed
        headers["content-range"] = f"bytes {start}-{end - 1}/{len(body)}"
        body, status = body[start:end], 206
    if request.method == "HEAD":
        headers["content-length"] = str(len(body))
        return Response(status_code=status, headers=headers, media_type=media.content_type)
    return Response(body, status_code=status, headers=headers, media_type=media.content_type)


def _accel_redirect(media: Media, prefix: str, headers: dict[str, str]) -> Response:
    """Headers only; nginx keeps Content-Type and Cache-Control from this response and
    its internal location re-adds the others (ETag, nosniff, CSP) from ``$upstream_http_*``."""
    headers["x-accel-redirect"] = prefix + media.variant.key
    return Response(status_code=200, headers=headers, media_type=media.content_type)


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    candidates = {part.strip().removeprefix("W/") for part in header.split(",")}
    return etag in candidates or "*" in candidates


def _if_range_ok(header: str | None, etag: str) -> bool:
    return header is None or header.strip() == etag


def _single_range(header: str, size: int) -> tuple[int, int] | None:
    """``bytes=a-b`` / ``bytes=a-`` / ``bytes=-n`` as [start, end); None if unsatisfiable.

    Several ranges are answered with the first one only (allowed by RFC 9110).
    """
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or not spec:
        return None
    first = spec.split(",")[0].strip()
    start_text, _, end_text = first.partition("-")
    try:
        if not start_text:
            length = int(end_text)
            if length <= 0:
                return None
            return max(0, size - length), size
        start = int(start_text)
        end = int(end_text) + 1 if end_text else size
    except ValueError:
        return None
    if start >= size or start < 0 or end <= start:
        return None
    return start, min(end, size)
