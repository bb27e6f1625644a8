"""``pixstash user create|disable`` and ``pixstash token create``, run in-process on a
SQLite database."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pixstash.cli.main import app
from pixstash.db.accounts import SqlAccountStore
from pixstash.db.engine import Database
from pixstash.db.migrate import upgrade
from pixstash.errors import InvalidToken
from pixstash.services.accounts import AccountService

runner = CliRunner()
PASSWORD = "correct horse battery"


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "cli.db"
    upgrade(f"sqlite:///{path}")
    monkeypatch.setenv("PIXSTASH_DATABASE_URL", f"sqlite:///{path}")
    return path


def users(path: Path) -> list[tuple[str, int, int]]:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT username, is_admin, disabled FROM users ORDER BY id").fetchall()


def check_token(path: Path, token: str) -> str:
    async def check() -> str:
        db = Database(f"sqlite:///{path}")
        try:
            service = AccountService(
                SqlAccountStore(db), session_seconds=60, registration_open=False
            )
            return (await service.token_principal(token)).username
        finally:
            await db.close()

    return asyncio.run(check())


def test_user_create_with_password_on_stdin(database: Path) -> None:
    result = runner.invoke(
        app, ["user", "create", "Root", "--admin", "--password-stdin"], input=PASSWORD + "\n"
    )
    assert result.exit_code == 0, result.output
    assert "created administrator Root" in result.output
    assert users(database) == [("Root", 1, 0)]
    with sqlite3.connect(database) as conn:
        stored = conn.execute("SELECT password_hash FROM users").fetchone()[0]
    assert stored.startswith("$argon2id$")


def test_user_create_prompts_twice(database: Path) -> None:
    differ = runner.invoke(app, ["user", "create", "ada"], input=f"{PASSWORD}\nother one\n")
    assert differ.exit_code == 1
    assert "differ" in differ.output
    assert users(database) == []
    same = runner.invoke(app, ["user", "create", "ada"], input=f"{PASSWORD}\n{PASSWORD}\n")
    assert same.exit_code == 0, same.output
    assert users(database) == [("ada", 0, 0)]


def test_user_create_refusals(database: Path) -> None:
    runner.invoke(app, ["user", "create", "ada", "--password-stdin"], input=PASSWORD + "\n")
    taken = runner.invoke(app, ["user", "create", "ADA", "--password-stdin"], input=PASSWORD)
    assert taken.exit_code == 1
    assert "username-taken" in taken.output
    short = runner.invoke(app, ["user", "create", "bob", "--password-stdin"], input="short\n")
    assert short.exit_code == 1
    assert "invalid-password" in short.output
    assert users(database) == [("ada", 0, 0)]


def test_token_create_and_user_disable(database: Path) -> None:
    runner.invoke(app, ["user", "create", "ada", "--password-stdin"], input=PASSWORD + "\n")
    created = runner.invoke(app, ["token", "create", "ada", "--name", "deploy"])
    assert created.exit_code == 0, created.output
    token = created.stdout.strip()
    assert token.startswith("pxs_")
    assert check_token(database, token) == "ada"
    with sqlite3.connect(database) as conn:
        assert conn.execute("SELECT name FROM api_tokens").fetchall() == [("deploy",)]

    unknown = runner.invoke(app, ["token", "create", "nobody"])
    assert unknown.exit_code == 1
    assert "user-not-found" in unknown.output

    disabled = runner.invoke(app, ["user", "disable", "ADA"])
    assert disabled.exit_code == 0, disabled.output
    assert users(database) == [("ada", 0, 1)]
    with pytest.raises(InvalidToken):
        check_token(database, token)
    assert runner.invoke(app, ["user", "disable", "nobody"]).exit_code == 1
