"""CORS for the API: pages on the origins of ``PIXSTASH_CORS_ORIGINS`` may call it.

Starlette's CORSMiddleware, for the API paths only: pages need none, and media need none
beyond their ``Cross-Origin-Resource-Policy: cross-origin`` (cached media are answered
before the middleware stack, ``web.fastpath``, and stay that fast). Off (not installed)
when no origin is configured.

Without credentials: a page elsewhere may send an API token in ``Authorization``, but its
requests never carry the visitor's session cookie, so another site cannot act as a
logged-in visitor. Browsers may read the rate-limit headers and ``Location``.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

# Paths of the APIs (ours and the Imgur-compatible one): CORS and the rate-limit headers
# apply under these.
API_PATH_PREFIXES: tuple[str, ...] = ("/api/", "/3/")
ALLOWED_METHODS: tuple[str, ...] = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
ALLOWED_HEADERS: tuple[str, ...] = ("Authorization", "Content-Type", "X-Delete-Token")
EXPOSED_HEADERS: tuple[str, ...] = (
    "Location",
    "Retry-After",
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
    # the Imgur-compatible API's
    "X-RateLimit-ClientLimit",
    "X-RateLimit-ClientRemaining",
    "X-RateLimit-UserLimit",
    "X-RateLimit-UserRemaining",
    "X-RateLimit-UserReset",
    "X-Post-Rate-Limit-Limit",
    "X-Post-Rate-Limit-Remaining",
    "X-Post-Rate-Limit-Reset",
)
PREFLIGHT_MAX_AGE = 600  # seconds browsers may cache a preflight answer


class ApiCORSMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        origins: Sequence[str],
        prefixes: tuple[str, ...] = API_PATH_PREFIXES,
    ) -> None:
        self.app = app
        self.prefixes = prefixes
        self.cors = CORSMiddleware(
            app,
            allow_origins=origins,
            allow_methods=ALLOWED_METHODS,
            allow_headers=ALLOWED_HEADERS,
            allow_credentials=False,
            expose_headers=EXPOSED_HEADERS,
            max_age=PREFLIGHT_MAX_AGE,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(self.prefixes):
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)
