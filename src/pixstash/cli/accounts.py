"""``pixstash user create|disable`` and ``pixstash token create``: accounts from the
server's shell (the operator may create accounts while registration is closed)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer
from rich.console import Console

from pixstash.config import Settings, load_settings
from pixstash.db.accounts import SqlAccountStore
from pixstash.db.engine import Database
from pixstash.errors import ConfigurationError, PixstashError
from pixstash.services.accounts import AccountService

user_app = typer.Typer(help="User accounts.", no_args_is_help=True)
token_app = typer.Typer(help="Personal API tokens.", no_args_is_help=True)
console = Console(stderr=True)
T = TypeVar("T")


def _run(work: Callable[[AccountService], Awaitable[T]]) -> T:
    try:
        settings: Settings = load_settings()
    except ConfigurationError as exc:
        console.print(f"[red]configuration error:[/red] {exc.message}")
        raise typer.Exit(2) from exc

    async def main() -> T:
        db = Database(settings.database_url)
        try:
            service = AccountService(
                SqlAccountStore(db),
                session_seconds=settings.session_seconds,
                registration_open=settings.registration,
            )
            return await work(service)
        finally:
            await db.close()

    try:
        return asyncio.run(main())
    except PixstashError as exc:
        console.print(f"[red]error:[/red] {exc.message} ({exc.code})")
        raise typer.Exit(1) from exc


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first: str = typer.prompt("Password", hide_input=True)
    again: str = typer.prompt("Password again", hide_input=True)
    if first != again:
        console.print("[red]error:[/red] the two passwords differ.")
        raise typer.Exit(1)
    return first


@user_app.command("create")
def create_user(
    username: Annotated[str, typer.Argument(help="3 to 32 letters, digits, '.', '_', '-'.")],
    admin: Annotated[bool, typer.Option("--admin", help="An administrator.")] = False,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin's first line.")
    ] = False,
) -> None:
    """Create a user (asks for the password twice unless --password-stdin)."""
    password = _read_password(password_stdin)
    user = _run(
        lambda accounts: accounts.register(username, password, is_admin=admin, operator=True)
    )
    kind = "administrator" if user.is_admin else "user"
    typer.echo(f"created {kind} {user.username} (id {user.id})")


@user_app.command("disable")
def disable_user(username: Annotated[str, typer.Argument()]) -> None:
    """Disable a user: their web sessions end and their API tokens are revoked."""
    user = _run(lambda accounts: accounts.disable_username(None, username))
    typer.echo(f"disabled {user.username} (id {user.id})")


@token_app.command("create")
def create_token(
    username: Annotated[str, typer.Argument()],
    name: Annotated[str, typer.Option(help="A label for the token.")] = "cli",
) -> None:
    """Create an API token for a user and print it (once: it is stored hashed)."""

    async def work(accounts: AccountService) -> str:
        user = await accounts.user_named(username)
        return (await accounts.create_token(user.id, name)).token

    typer.echo(_run(work))
