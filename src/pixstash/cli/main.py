"""The ``pixstash`` command: serve, worker, db upgrade, gc, config."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from pixstash.config import Settings, load_settings
from pixstash.errors import ConfigurationError

app = typer.Typer(
    help="pixstash: a self-hostable image upload and sharing service.",
    no_args_is_help=True,
    add_completion=False,
)
db_app = typer.Typer(help="Database schema management.", no_args_is_help=True)
app.add_typer(db_app, name="db")
console = Console(stderr=True)


def _settings() -> Settings:
    try:
        return load_settings()
    except ConfigurationError as exc:
        console.print(f"[red]configuration error:[/red] {exc.message}")
        raise typer.Exit(2) from exc


def _check_backends(settings: Settings) -> None:
    """Fail fast, with the list of valid schemes, on a backend URL we do not know."""
    from pixstash.wiring import build_container

    try:
        asyncio.run(build_container(settings).close())
    except ConfigurationError as exc:
        console.print(f"[red]configuration error:[/red] {exc.message}")
        raise typer.Exit(2) from exc


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8000).")] = None,
    workers: Annotated[
        int | None,
        typer.Option(help="Background job workers in the server (default: CPU count; 0 = none)."),
    ] = None,
    http_workers: Annotated[
        int | None, typer.Option(help="HTTP server processes (default 1).")
    ] = None,
    server: Annotated[str, typer.Option(help="ASGI server: granian or uvicorn.")] = "granian",
) -> None:
    """Serve the web app, API and media; runs background jobs in-process (db:// queue)."""
    overrides = {
        "PIXSTASH_HOST": host,
        "PIXSTASH_PORT": port,
        "PIXSTASH_JOB_WORKERS": workers,
        "PIXSTASH_HTTP_WORKERS": http_workers,
    }
    for name, value in overrides.items():
        if value is not None:
            os.environ[name] = str(value)
    settings = _settings()
    _configure_logging(settings.log_level)
    _check_backends(settings)
    if settings.migrate_on_start:
        from pixstash.db.migrate import upgrade

        upgrade(settings.database_url)
    console.print(
        f"pixstash serving on http://{settings.host}:{settings.port} "
        f"({settings.http_workers} HTTP process(es), {settings.job_workers} job worker(s))"
    )
    if server == "uvicorn":
        import uvicorn

        uvicorn.run(
            "pixstash.web.app:create_app",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=settings.http_workers,
            log_level="warning",
        )
        return
    from granian import Granian
    from granian.constants import Interfaces

    Granian(
        "pixstash.web.app:create_app",
        address=settings.host,
        port=settings.port,
        interface=Interfaces.ASGI,
        workers=settings.http_workers,
        factory=True,
        log_level=settings.log_level,  # type: ignore[arg-type]
        backlog=2048,
    ).serve()


@app.command()
def worker(
    concurrency: Annotated[
        int | None, typer.Option(help="Jobs run at once (default: CPU count).")
    ] = None,
) -> None:
    """Run background jobs in this process, without serving HTTP."""
    settings = _settings()
    _check_backends(settings)
    _configure_logging(settings.log_level)
    asyncio.run(_run_worker(settings, concurrency or settings.job_workers or 1))


async def _run_worker(settings: Settings, concurrency: int) -> None:
    from pixstash.wiring import build_container

    container = build_container(settings)
    runner = container.make_runner(concurrency)
    container.runner = runner
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await runner.start()
    console.print(f"pixstash worker running {concurrency} job(s) at once; Ctrl-C stops")
    try:
        await stop.wait()
    finally:
        await container.close()


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Apply database migrations (safe to run repeatedly)."""
    from pixstash.db.migrate import current_revision, upgrade

    settings = _settings()
    upgrade(settings.database_url, revision)
    console.print(f"database at revision {current_revision(settings.database_url)}")


@app.command()
def gc(
    grace: Annotated[
        int | None,
        typer.Option(help="Only remove orphans older than this many seconds (default 3600)."),
    ] = None,
    dry_run: Annotated[bool, typer.Option(help="Report, remove nothing.")] = False,
) -> None:
    """Remove orphan blobs, finish interrupted deletions, sweep stale temp files."""
    settings = _settings()
    _configure_logging(settings.log_level)
    age = settings.tmp_max_age_seconds if grace is None else grace
    report = asyncio.run(_gc(settings, age, dry_run))
    verb = "would remove" if dry_run else "removed"
    console.print(
        f"{verb} {report.orphan_objects} orphan object(s) ({report.orphan_bytes} bytes), "
        f"finished {report.purged_blobs} deletion(s), swept {report.temp_files} temp file(s)"
    )


async def _gc(settings: Settings, grace: int, dry_run: bool):  # type: ignore[no-untyped-def]
    from pixstash.wiring import build_container

    container = build_container(settings)
    try:
        return await container.maintenance.collect_garbage(grace_seconds=grace, dry_run=dry_run)
    finally:
        await container.close()


@app.command("config")
def show_config(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Print the effective settings (secrets masked)."""
    values = _settings().masked()
    if as_json:
        typer.echo(json.dumps(values, indent=2, default=str))
        return
    table = Table("setting", "value", "environment variable")
    for name, value in values.items():
        table.add_row(name, str(value), f"PIXSTASH_{name.upper()}")
    Console().print(table)


def main() -> None:
    app()
