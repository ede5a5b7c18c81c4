"""CLI: `mammokit users add|list|disable|enable|token` — web-app accounts (no default account exists)."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from ._app import app, data_app, users_app  # noqa: F401

DbOpt = Annotated[str | None, typer.Option(
    "--db", help="Database URL (default: the SQLite file in the data dir, as `mammokit serve` uses).")]
DataDirOpt = Annotated[Path | None, typer.Option(
    "--data-dir", help="Data dir of the server (default: $MAMMOKIT_DATA_DIR or ~/.local/share/mammokit).")]


def _factory(db: str | None, data_dir: Path | None):
    from ..web import WebSettings, default_data_dir, init_db

    settings = WebSettings(data_dir=data_dir or default_data_dir(), db_url=db)
    if settings.db_url is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    _engine, factory = init_db(settings.database_url)
    return factory


def _read_password(name: str) -> str:
    """From a hidden prompt (typed twice) on a terminal, else the first line of stdin."""
    if sys.stdin.isatty():
        return typer.prompt(f"Password for {name}", hide_input=True, confirmation_prompt=True)
    return sys.stdin.readline().rstrip("\r\n")


@users_app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="User name (letters, digits, _ . @ -).")],
    role: Annotated[str, typer.Option("--role", help="admin (sees everyone's results) or clinician.")] = "clinician",
    db: DbOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Add a user; the password is read from a prompt, or from stdin when piped."""
    from ..web import add_user

    info = add_user(_factory(db, data_dir), name, role, _read_password(name))
    typer.echo(f"added {info.role} {info.name}")


@users_app.command("list")
def list_(
    db: DbOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """List users: name, role, active, created."""
    from ..web import list_users

    users = list_users(_factory(db, data_dir))
    if not users:
        typer.echo("no users yet: add one with `mammokit users add NAME --role admin`")
    for u in users:
        typer.echo(f"{u.name}\t{u.role}\t{'active' if u.active else 'disabled'}\t{u.created_at}")


def _set_active(name: str, db: str | None, data_dir: Path | None, active: bool) -> None:
    from ..web import set_active

    set_active(_factory(db, data_dir), name, active)
    typer.echo(f"{'enabled' if active else 'disabled'} {name}")


@users_app.command("disable")
def disable(name: Annotated[str, typer.Argument(help="User to disable.")], db: DbOpt = None,
            data_dir: DataDirOpt = None) -> None:
    """Disable a user: ends their sessions, revokes their API tokens, refuses their logins."""
    _set_active(name, db, data_dir, active=False)


@users_app.command("enable")
def enable(name: Annotated[str, typer.Argument(help="User to enable again.")], db: DbOpt = None,
           data_dir: DataDirOpt = None) -> None:
    """Enable a disabled user again."""
    _set_active(name, db, data_dir, active=True)


@users_app.command("token")
def token(
    name: Annotated[str, typer.Argument(help="User the token acts as.")],
    db: DbOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Print a new API token for the JSON API (Authorization: Bearer TOKEN); it is shown only once."""
    from ..web import create_api_token

    typer.echo(create_api_token(_factory(db, data_dir), name))
