"""The HTTP server process of ``pixstash serve``: granian (or uvicorn) and nothing else.

``pixstash serve`` checks the configuration and the backends and migrates the database,
then replaces itself (``exec``) with ``python -m pixstash.cli.httpserver``. This process
imports only the settings, the logging and metrics-directory helpers and the server: it stays the
supervisor of the HTTP workers (the same PID, so systemd and signals are unaffected)
without the ~90 MB that the CLI, the backends and the migrations had loaded. The app
itself is imported by the workers.
"""

from __future__ import annotations

from pixstash.config import load_settings
from pixstash.telemetry.directory import prepare_directory, remove_directory
from pixstash.telemetry.logs import configure_logging

APP_FACTORY = "pixstash.web.app:create_app"


def main(server: str = "granian") -> None:
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)  # the workers inherit it
    path, created = prepare_directory(settings.metrics_dir)
    try:
        if server == "uvicorn":
            import uvicorn

            uvicorn.run(
                APP_FACTORY,
                factory=True,
                host=settings.host,
                port=settings.port,
                workers=settings.http_workers,
                log_level="warning",
                # the client address is pixstash's to decide (PIXSTASH_TRUSTED_PROXIES)
                proxy_headers=False,
            )
            return
        from granian import Granian
        from granian.constants import Interfaces

        Granian(
            APP_FACTORY,
            address=settings.host,
            port=settings.port,
            interface=Interfaces.ASGI,
            workers=settings.http_workers,
            factory=True,
            log_level=settings.log_level,  # type: ignore[arg-type]
            backlog=2048,
        ).serve()
    finally:
        remove_directory(path, created)


if __name__ == "__main__":
    import sys

    main(*sys.argv[1:2])
