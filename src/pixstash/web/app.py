"""The ASGI application factory (``create_app``): wires backends in the lifespan."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import anyio.to_thread
from fastapi import FastAPI
from starlette.routing import Route
from starlette.staticfiles import StaticFiles

from pixstash import __version__
from pixstash.config import Settings, load_settings
from pixstash.db.migrate import upgrade
from pixstash.web import convertors as _convertors  # noqa: F401 (registers them)
from pixstash.web import health, imgur
from pixstash.web.api import albums as albums_api
from pixstash.web.api import images as images_api
from pixstash.web.api import me as me_api
from pixstash.web.api import uploads as uploads_api
from pixstash.web.cors import ApiCORSMiddleware
from pixstash.web.errors import install_error_handlers
from pixstash.web.fastpath import PixstashApp
from pixstash.web.media import media_endpoint, private_media_endpoint
from pixstash.web.pages import accounts as account_pages
from pixstash.web.pages import albums as album_pages
from pixstash.web.pages import routes as pages
from pixstash.web.ratelimit import RateLimitHeadersMiddleware
from pixstash.web.security_headers import SecurityHeadersMiddleware
from pixstash.web.telemetry import (
    QueueStats,
    RequestContextMiddleware,
    flushing_hot_path,
    metrics_endpoint,
)
from pixstash.wiring import build_container

log = logging.getLogger(__name__)
STATIC_DIR = Path(__file__).parent / "static"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.migrate_on_start:
            await anyio.to_thread.run_sync(upgrade, settings.database_url)
        container = build_container(settings)
        await container.store.check()
        app.state.container = container
        # pages let browsers send direct uploads there (CSP connect-src)
        app.state.upload_origin = await anyio.to_thread.run_sync(
            container.store.direct_upload_origin
        )
        app.state.queue_stats = QueueStats(container.queue)
        container.runner = container.make_runner(settings.job_workers)
        await container.runner.start()
        try:
            async with (
                flushing_hot_path(),
                container.views.flushing(settings.view_flush_seconds),
            ):
                yield
        finally:
            await container.close()

    app = PixstashApp(
        title="pixstash",
        version=__version__,
        description="Upload, share and deliver images. Errors are "
        '`{"error": {"code": "<stable-code>", "message": "<what to do>"}}`.',
        lifespan=lifespan,
    )
    install_error_handlers(app)
    # Inside FastAPI's stack, so cached media (PixstashApp) skip them; CORS is outermost,
    # so 429 and other error answers carry CORS headers too.
    app.add_middleware(RateLimitHeadersMiddleware)
    app.add_middleware(SecurityHeadersMiddleware, settings=settings)
    if settings.cors_origins:
        app.add_middleware(ApiCORSMiddleware, origins=settings.cors_origins)
    app.add_middleware(RequestContextMiddleware)  # outermost: its request id is in every log
    app.include_router(images_api.router)
    app.include_router(uploads_api.router)
    app.include_router(me_api.router)
    app.include_router(albums_api.router)
    app.include_router(imgur.router)  # the Imgur API v3 at /3/
    app.include_router(health.router)
    app.router.routes.append(Route("/metrics", metrics_endpoint, include_in_schema=False))
    app.router.routes.append(Route("/{name:medianame}", media_endpoint, methods=["GET", "HEAD"]))
    app.router.routes.append(
        Route("/p/{name:medianame}", private_media_endpoint, methods=["GET", "HEAD"])
    )
    app.include_router(account_pages.router)
    app.include_router(album_pages.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
