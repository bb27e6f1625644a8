"""``pixstash upload FILES...``: upload images to a pixstash server and print their links.

A client of the HTTP API only (see ``upload_client``): it runs anywhere, against any
server. Links go to stdout; progress bars, errors and the summary to stderr.
Exit codes: 0 every file uploaded, 1 any refused or failed, 2 a usage error.
"""

from __future__ import annotations

import json
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from pixstash.cli.upload_client import (
    DEFAULT_SERVER,
    DirectUploadClient,
    RetryPolicy,
    ServerUnreachable,
    UploadFailed,
)


@dataclass
class FileResult:
    path: Path
    image: dict[str, Any] | None = None
    error: UploadFailed | None = None

    def as_json(self) -> dict[str, Any]:
        if self.image is not None:
            return {"file": str(self.path), "ok": True, "image": self.image}
        assert self.error is not None
        return {"file": str(self.path), "ok": False, "error": self.error.as_json()}


def upload(
    files: Annotated[
        list[Path],
        typer.Argument(
            exists=True,
            dir_okay=False,
            readable=True,
            metavar="FILES",
            show_default=False,
            help="Images to upload.",
        ),
    ],
    album: Annotated[
        str | None,
        typer.Option(
            help="Add the uploaded images to this album, after the uploads (needs a server "
            "with albums).",
        ),
    ] = None,
    album_token: Annotated[
        str | None,
        typer.Option(
            envvar="PIXSTASH_ALBUM_TOKEN",
            show_default=False,
            help="The album's delete token, for an anonymous album (set PIXSTASH_ALBUM_TOKEN "
            "rather than this option).",
        ),
    ] = None,
    server: Annotated[
        str, typer.Option(envvar="PIXSTASH_SERVER", help="Base URL of the pixstash server.")
    ] = DEFAULT_SERVER,
    token: Annotated[
        str | None,
        typer.Option(
            envvar="PIXSTASH_TOKEN",
            show_default=False,
            help="API token, sent as 'Authorization: Bearer'. Set PIXSTASH_TOKEN rather than "
            "this option: other users can read command lines in the process list.",
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON document of results on stdout.")
    ] = False,
    parallel: Annotated[
        int, typer.Option(min=1, max=8, help="Files uploaded at the same time.")
    ] = 2,
    retries: Annotated[
        int,
        typer.Option(
            min=0,
            max=10,
            help="Retries of each request after a connection error, 429, 503 or an upload "
            "being completed elsewhere (backoff 0.5 s doubling to 8 s, or Retry-After up to 60 s).",
        ),
    ] = 4,
    progress: Annotated[
        bool | None,
        typer.Option(
            "--progress/--no-progress",
            show_default=False,
            help="Progress bars on stderr (by default when stderr is a terminal).",
        ),
    ] = None,
) -> None:
    """Upload images to a pixstash server and print their page, direct and delete links."""
    if not server.startswith(("http://", "https://")):
        raise typer.BadParameter(
            f"{server!r} is not an http:// or https:// URL", param_hint="--server"
        )
    errors = Console(stderr=True, force_terminal=True if progress else None)
    show_progress = errors.is_terminal if progress is None else progress
    policy = RetryPolicy(attempts=retries + 1)
    with DirectUploadClient(server, token, policy) as client:
        results = _upload_all(client, files, parallel, _bars(errors, show_progress))
        album_error = _add_to_album(client, album, album_token, results) if album else None
    if as_json:
        typer.echo(json.dumps([r.as_json() for r in results], indent=2))
    else:
        _print_links(results)
    _report(errors, results, album, album_error)
    if album_error is not None or any(r.error is not None for r in results):
        raise typer.Exit(1)


def _bars(console: Console, enabled: bool) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=not enabled,
        redirect_stdout=False,  # links go to stdout as they are, not through the bars
        redirect_stderr=False,
    )


def _upload_all(
    client: DirectUploadClient, files: list[Path], parallel: int, bars: Progress
) -> list[FileResult]:
    """Each file in its own bar, ``parallel`` at a time; results in the order given. Once
    the server cannot be reached or refuses the token, the files not started yet are not
    tried: they would fail the same way."""
    fatal: list[UploadFailed] = []
    lock = threading.Lock()

    def one(path: Path, task: TaskID) -> FileResult:
        with lock:
            if fatal:
                bars.update(task, description=f"[red]✗[/red] {escape(path.name)}")
                first = fatal[0]
                skipped = UploadFailed(
                    f"not tried: {first.message}", status=first.status, code=first.code
                )
                return FileResult(path, error=skipped)
        bars.start_task(task)
        try:
            image = client.upload(path, lambda sent: bars.update(task, completed=sent))
        except UploadFailed as exc:
            if isinstance(exc, ServerUnreachable) or exc.status == 401:
                with lock:
                    fatal.append(exc)
            bars.update(task, description=f"[red]✗[/red] {escape(path.name)}")
            return FileResult(path, error=exc)
        except OSError as exc:  # gone or unreadable since the arguments were checked
            bars.update(task, description=f"[red]✗[/red] {escape(path.name)}")
            return FileResult(path, error=UploadFailed(f"could not read the file: {exc}"))
        bars.update(task, description=f"[green]✓[/green] {escape(path.name)}")
        return FileResult(path, image=image)

    with bars:
        tasks = [
            bars.add_task(escape(path.name), total=path.stat().st_size, start=False)
            for path in files
        ]
        with ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="upload") as pool:
            return list(pool.map(one, files, tasks))


def _add_to_album(
    client: DirectUploadClient, album: str, album_token: str | None, results: list[FileResult]
) -> UploadFailed | None:
    ids = [str(r.image["id"]) for r in results if r.image is not None]
    if not ids:
        return None
    # anonymous images are proven ours by their delete tokens (owned ones need none)
    tokens = [
        str(r.image["delete_token"]) for r in results if r.image and r.image.get("delete_token")
    ]
    try:
        client.add_to_album(album, ids, album_token, image_tokens=tokens)
    except UploadFailed as exc:
        return exc
    return None


def _print_links(results: list[FileResult]) -> None:
    for result in results:
        if result.image is None:
            continue
        links = result.image.get("links", {})
        typer.echo(str(result.path))
        typer.echo(f"  page    {links.get('page')}")
        typer.echo(f"  direct  {links.get('full')}")
        typer.echo(f"  delete  {links.get('delete')}")
    sys.stdout.flush()


def _report(
    console: Console, results: list[FileResult], album: str | None, album_error: UploadFailed | None
) -> None:
    def say(text: str) -> None:
        console.print(text, highlight=False, soft_wrap=True)

    for result in results:
        if result.error is not None:
            say(f"[red]failed[/red] {escape(str(result.path))}: {escape(str(result.error))}")
    if album_error is not None:
        say(f"[red]not added to album {escape(album or '')}[/red]: {escape(str(album_error))}")
    failed = sum(r.error is not None for r in results)
    uploaded = len(results) - failed
    summary = f"{uploaded} uploaded, {failed} failed"
    if album and album_error is None and uploaded:
        summary += f"; added to album {escape(album)}"
    say(summary)
