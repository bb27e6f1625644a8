"""The ``pixstash`` command: serve, worker, db upgrade, gc, config."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
from collections.abc import Iterator
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from pixstash.cli.accounts import token_app, user_app
from pixstash.cli.upload import upload
from pixstash.config import Settings, load_settings
from pixstash.errors import ConfigurationError
from pixstash.services.maintenance import INCOMING_GRACE_SECONDS, GcReport
from pixstash.telemetry.directory import prepare_directory, remove_directory
from pixstash.telemetry.logs import configure_logging

app = typer.Typer(
    help="pixstash: a self-hostable image upload and sharing service.",
    no_args_is_help=True,
    add_completion=False,
)
db_app = typer.Typer(help="Database schema management.", no_args_is_help=True)
app.add_typer(db_app, name="db")
storage_app = typer.Typer(help="Blob storage management.", no_args_is_help=True)
app.add_typer(storage_app, name="storage")
app.add_typer(user_app, name="user")
app.add_typer(token_app, name="token")
app.command("upload")(upload)
console = Console(stderr=True)
log = logging.getLogger("pixstash.worker")


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


def _configure_logging(settings: Settings) -> None:
    configure_logging(settings.log_level, settings.log_format)


@contextlib.contextmanager
def _metrics_directory(settings: Settings) -> Iterator[None]:
    """The processes started from here share their metrics through this directory (see
    ``telemetry.directory``); it must be set before prometheus_client is imported."""
    path, created = prepare_directory(settings.metrics_dir)
    try:
        yield
    finally:
        remove_directory(path, created)


def _serve_worker_metrics(settings: Settings) -> None:
    if not settings.worker_metrics_port:
        return
    from pixstash.telemetry.exposition import serve_http

    try:
        serve_http(settings.host, settings.worker_metrics_port)
    except OSError as exc:
        console.print(
            f"[red]cannot serve metrics on {settings.host}:{settings.worker_metrics_port}:"
            f"[/red] {exc} (PIXSTASH_WORKER_METRICS_PORT)"
        )
        raise typer.Exit(2) from exc


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
    if server not in ("granian", "uvicorn"):
        console.print(f"[red]unknown server {server!r}:[/red] use granian or uvicorn")
        raise typer.Exit(2)
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
    _configure_logging(settings)
    _check_backends(settings)
    if settings.migrate_on_start:
        from pixstash.db.migrate import upgrade

        upgrade(settings.database_url)
    console.print(
        f"pixstash serving on http://{settings.host}:{settings.port} "
        f"({settings.http_workers} HTTP process(es), {settings.job_workers} job worker(s))"
    )
    # The HTTP server gets a lean process of its own: same PID, none of this one's imports.
    sys.stdout.flush()
    sys.stderr.flush()
    command = [sys.executable, "-m", "pixstash.cli.httpserver", server]
    os.execv(sys.executable, command)  # noqa: S606 (our own interpreter and module)


@app.command()
def worker(
    processes: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Worker processes, supervised by this one (default: CPU count). "
            "1 runs the jobs in this process, with no supervisor.",
        ),
    ] = None,
    concurrency: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Jobs run at once per process (default: PIXSTASH_JOB_WORKERS when set, "
            "else 1 per process; with --processes 1, PIXSTASH_JOB_WORKERS or CPU count).",
        ),
    ] = None,
    parent_pid: Annotated[int | None, typer.Option(hidden=True)] = None,
) -> None:
    """Run background jobs without serving HTTP: one process per core by default."""
    settings = _settings()
    if parent_pid is not None:  # a supervised child: the supervisor made the directory
        _worker(settings, processes, concurrency, parent_pid)
        return
    with _metrics_directory(settings):
        _worker(settings, processes, concurrency, parent_pid)


def _worker(
    settings: Settings, processes: int | None, concurrency: int | None, parent_pid: int | None
) -> None:
    _check_backends(settings)
    _configure_logging(settings)
    if parent_pid is None:
        _serve_worker_metrics(settings)
    count = processes or os.cpu_count() or 1
    explicit = settings.job_workers if "job_workers" in settings.model_fields_set else None
    if count == 1:
        jobs = concurrency or explicit or settings.job_workers or 1
        asyncio.run(_run_worker(settings, jobs, parent_pid))
        return
    from pixstash.cli.supervisor import Supervisor, child_command

    jobs = concurrency or explicit or 1
    console.print(
        f"pixstash worker: {count} processes, {jobs} job(s) at once in each; Ctrl-C stops"
    )
    code = Supervisor(child_command(jobs, python=sys.executable), count).run()
    if code:
        console.print("[red]worker processes keep failing at start; see the log above[/red]")
        raise typer.Exit(code)


async def _run_worker(settings: Settings, concurrency: int, parent_pid: int | None) -> None:
    from pixstash.cli.supervisor import START_FAILED
    from pixstash.wiring import build_container

    container = build_container(settings)
    runner = container.make_runner(concurrency)
    container.runner = runner
    try:
        await runner.start()
    except Exception as exc:  # the supervisor counts this as a failed start
        log.error("worker process %d could not start: %s", os.getpid(), exc)
        await container.close()
        raise SystemExit(START_FAILED) from exc
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    if parent_pid is None:
        loop.add_signal_handler(signal.SIGINT, stop.set)
        watchdog = None
    else:  # the supervisor forwards Ctrl-C as SIGTERM; a terminal's SIGINT is not ours
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        watchdog = asyncio.create_task(_stop_when_orphaned(parent_pid, stop))
    try:
        if parent_pid is None:
            console.print(f"pixstash worker running {concurrency} job(s) at once; Ctrl-C stops")
        else:
            log.info("worker process %d running %d job(s) at once", os.getpid(), concurrency)
        await stop.wait()
    finally:
        if watchdog is not None:
            watchdog.cancel()
        await container.close()


async def _stop_when_orphaned(parent_pid: int, stop: asyncio.Event) -> None:
    """A supervisor killed with SIGKILL cannot stop its children: they notice and stop."""
    while not stop.is_set():
        if os.getppid() != parent_pid:
            log.warning("the supervising process %d is gone; stopping", parent_pid)
            stop.set()
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 1.0)


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Apply database migrations (safe to run repeatedly)."""
    from pixstash.db.migrate import current_revision, upgrade

    settings = _settings()
    upgrade(settings.database_url, revision)
    console.print(f"database at revision {current_revision(settings.database_url)}")


@storage_app.command("setup")
def storage_setup(
    cold_after_days: Annotated[
        int | None,
        typer.Option(min=1, help="Move originals older than this many days to --cold-class."),
    ] = None,
    cold_class: Annotated[
        str, typer.Option(help="Storage class for old originals (S3 only).")
    ] = "STANDARD_IA",
) -> None:
    """Install the bucket lifecycle rules that clean up storage and the CORS rule that lets
    the upload page POST to the bucket (S3); run again to change."""
    from pixstash.storage.base import SCHEMES
    from pixstash.storage.s3 import S3BlobStore
    from pixstash.wiring import backend_class

    settings = _settings()
    _configure_logging(settings)
    try:
        store_cls = backend_class("storage", settings.storage_url, SCHEMES)
    except ConfigurationError as exc:
        console.print(f"[red]configuration error:[/red] {exc.message}")
        raise typer.Exit(2) from exc
    if store_cls is not S3BlobStore:
        console.print(
            f"{settings.storage_url.split('://', 1)[0]}:// storage has no lifecycle rules to "
            "install: run `pixstash gc` daily instead (it removes incomplete writes and "
            "uploads left under incoming/ for a day)."
        )
        return
    _install_lifecycle(settings, cold_after_days, cold_class)
    _install_cors(settings)


def _install_lifecycle(settings: Settings, cold_after_days: int | None, cold_class: str) -> None:
    from pixstash.errors import PixstashError
    from pixstash.storage.lifecycle import describe_rule, incoming_expiry_days, install_lifecycle
    from pixstash.storage.s3 import S3BlobStore

    try:
        store = S3BlobStore.from_url(settings.storage_url)
        try:
            result = install_lifecycle(
                store,
                cold_after_days=cold_after_days,
                cold_class=cold_class,
                incoming_days=incoming_expiry_days(settings.direct_upload_seconds),
            )
        finally:
            asyncio.run(store.close())
    except PixstashError as exc:
        console.print(f"[red]could not install the lifecycle rules:[/red] {exc.message}")
        raise typer.Exit(1) from exc
    console.print(f"lifecycle rules of bucket {store.bucket}:")
    for rule in result.installed:
        console.print(f"  set  {rule['ID']}: {describe_rule(rule)}")
    for rule in result.kept:
        console.print(f"  kept {rule.get('ID', '(no id)')}: {describe_rule(rule)}")


def _install_cors(settings: Settings) -> None:
    from pixstash.errors import PixstashError
    from pixstash.storage.cors import describe_cors_rule, install_cors, origin_of
    from pixstash.storage.s3 import S3BlobStore

    if not settings.public_url:
        console.print(
            "[yellow]no CORS rule installed:[/yellow] set PIXSTASH_PUBLIC_URL to the app's "
            "URL and run this again; until then the upload page cannot send files to the "
            "bucket (API clients can)."
        )
        return
    try:
        origin = origin_of(settings.public_url)
        store = S3BlobStore.from_url(settings.storage_url)
        try:
            result = install_cors(store, [origin])
        finally:
            asyncio.run(store.close())
    except PixstashError as exc:
        console.print(f"[red]could not install the CORS rule:[/red] {exc.message}")
        raise typer.Exit(1) from exc
    console.print(f"CORS rules of bucket {store.bucket}:")
    console.print(f"  set  {result.installed['ID']}: {describe_cors_rule(result.installed)}")
    for rule in result.kept:
        console.print(f"  kept {rule.get('ID', '(no id)')}: {describe_cors_rule(rule)}")


@app.command()
def gc(
    grace: Annotated[
        int | None,
        typer.Option(help="Only remove orphans older than this many seconds (default 3600)."),
    ] = None,
    incoming_grace: Annotated[
        int,
        typer.Option(
            min=0,
            help="Remove direct uploads left in incoming/ this long (seconds), unless their "
            "upload can still be completed; forget finished upload sessions this old.",
        ),
    ] = INCOMING_GRACE_SECONDS,
    dry_run: Annotated[bool, typer.Option(help="Report, remove nothing.")] = False,
) -> None:
    """Remove orphan blobs and abandoned uploads, finish deletions, sweep stale temp files."""
    settings = _settings()
    _configure_logging(settings)
    age = settings.tmp_max_age_seconds if grace is None else grace
    report = asyncio.run(_gc(settings, age, incoming_grace, dry_run))
    verb = "would remove" if dry_run else "removed"
    forgot = "would forget" if dry_run else "forgot"
    console.print(
        f"{verb} {report.orphan_objects} orphan object(s) ({report.orphan_bytes} bytes) and "
        f"{report.incoming_objects} abandoned upload(s) ({report.incoming_bytes} bytes), "
        f"finished {report.purged_blobs} deletion(s), swept {report.temp_files} temp file(s), "
        f"{forgot} {report.upload_sessions} expired or finished upload session(s), "
        f"deleted {report.expired_images} expired image(s)"
    )


async def _gc(settings: Settings, grace: int, incoming_grace: int, dry_run: bool) -> GcReport:
    from pixstash.wiring import build_container

    container = build_container(settings)
    try:
        return await container.maintenance.collect_garbage(
            grace_seconds=grace, incoming_grace_seconds=incoming_grace, dry_run=dry_run
        )
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
