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
from pixstash.web import health
from pixstash.web.api import images as images_api
from pixstash.web.api import uploads as uploads_api
from pixstash.web.errors import install_error_handlers
from pixstash.web.fastpath import PixstashApp
from pixstash.web.media import media_endpoint
from pixstash.web.pages import routes as pages
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
        container.runner = container.make_runner(settings.job_workers)
        await container.runner.start()
        try:
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
    app.include_router(images_api.router)
    app.include_router(uploads_api.router)
    app.include_router(health.router)
    app.router.routes.append(Route("/{name:medianame}", media_endpoint, methods=["GET", "HEAD"]))
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
