"""Security headers on every answer the app itself makes (not only on its pages).

- Pages set their own CSP, Referrer-Policy and frame options (``pages/render.py``); media
  their own sandboxing CSP (``media.py``). This middleware only fills in what an answer
  lacks: ``X-Content-Type-Options: nosniff`` on all of them, and on every answer that is
  not HTML (API JSON, oEmbed, zips, redirects, errors) a CSP that runs and embeds nothing.
  HTML it did not make (FastAPI's /docs, which loads Swagger UI from a CDN) keeps none.
- HSTS when ``PIXSTASH_HSTS_SECONDS`` > 0, which the settings accept only with an https
  ``PIXSTASH_PUBLIC_URL``: never on plain http. No ``includeSubDomains``: a media origin
  or a sibling site on another subdomain may not be on https.

Cached media answered by ``PixstashApp`` (fastpath.py) skip it: they carry their own
headers, and HSTS from any one answer of the origin is enough for a browser.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pixstash.config import Settings

NON_HTML_CSP = "default-src 'none'; frame-ancestors 'none'"


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.hsts = f"max-age={settings.hsts_seconds}" if settings.hsts_seconds else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("x-content-type-options", "nosniff")
                if not headers.get("content-type", "").startswith("text/html"):
                    headers.setdefault("content-security-policy", NON_HTML_CSP)
                if self.hsts is not None:
                    headers.setdefault("strict-transport-security", self.hsts)
            await send(message)

        await self.app(scope, receive, send_with_headers)
