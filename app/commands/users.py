"""`citygrid users add|list|token`: the first admin and service accounts."""

from __future__ import annotations

from typing import Annotated

import typer

users_app = typer.Typer(help="Accounts and tokens.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(users_app, name="users")


def _engine_and_settings():
    from app.cli import _engine, _settings

    settings = _settings()
    return _engine(settings), settings


@users_app.command("add")
def add(
    username: str,
    role: Annotated[list[str], typer.Option("--role", help="repeatable: admin, supervisor, …")],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)],
    display_name: Annotated[
        str | None, typer.Option(help="shown name; a supervisor's must match grid.supervisor")
    ] = None,
    unit: Annotated[str | None, typer.Option(help="unit code (required for a handler)")] = None,
) -> None:
    """Add an account, e.g. the first admin: citygrid users add admin --role admin."""
    from app.cli import _fail
    from app.errors import DomainError
    from app.services.accounts.users import create_user

    engine, _ = _engine_and_settings()
    try:
        user = create_user(engine, username, password, role, display_name, unit)
    except DomainError as exc:
        _fail(exc)
    finally:
        engine.dispose()
    typer.echo(f"user {user['username']} added with roles {', '.join(user['roles'])}")


@users_app.command("list")
def list_() -> None:
    """List accounts."""
    from app.services.accounts.users import list_users

    engine, _ = _engine_and_settings()
    try:
        for user in list_users(engine):
            typer.echo(
                f"{user['username']:20} {','.join(user['roles']):30} {user['unit_code'] or ''}"
            )
    finally:
        engine.dispose()


@users_app.command("token")
def token(username: str, days: Annotated[int, typer.Option(help="validity in days")] = 30) -> None:
    """Print a bearer token for USERNAME (service accounts, scripts)."""
    from app.services.accounts.users import issue_token

    engine, settings = _engine_and_settings()
    engine.dispose()
    typer.echo(issue_token(settings, username, minutes=days * 24 * 60))
