"""`recomamp users`: RecomAMP users and their Amazon credentials."""

from __future__ import annotations

import typer

from recomamp_pipelines.cli.common import (
    JSON_OPTION,
    WIDE_OPTION,
    fail,
    print_rows,
    read_secret,
    settings,
    user_errors,
)
from recomamp_pipelines.crypto import TokenCipher
from recomamp_pipelines.db.connection import connect, database_url
from recomamp_pipelines.db.listing import list_users
from recomamp_pipelines.users import UserInputError, save_user

app = typer.Typer(help="RecomAMP users and their Amazon credentials.")


@app.command()
def add(
    email: str = typer.Option(..., "--email", help="The user's email address (unique)."),
    timezone: str = typer.Option(
        "UTC", "--timezone", help="IANA time zone of the user's reports, e.g. America/New_York."
    ),
    full_name: str | None = typer.Option(None, "--full-name", help="Display name."),
) -> None:
    """Add a user (or replace an existing user's token).

    The user's Amazon refresh token is read from standard input, never from the command line,
    and stored encrypted.
    """
    config = settings()
    with user_errors():
        cipher = TokenCipher.from_settings(config)
        token = read_secret("Amazon refresh token")
        with connect(database_url(config)) as conn:
            try:
                saved = save_user(
                    conn,
                    cipher,
                    email=email,
                    refresh_token=token,
                    timezone=timezone,
                    full_name=full_name,
                )
            except UserInputError as exc:
                fail(str(exc))
    verb = "Added" if saved.is_new else "Updated"
    typer.echo(f"{verb} user {saved.email} ({saved.user_id}); refresh token stored encrypted.")


@app.command("list")
def list_command(as_json: bool = JSON_OPTION, wide: bool = WIDE_OPTION) -> None:
    """List users: id, email, time zone and whether an Amazon refresh token is stored."""
    with user_errors(), connect(database_url(settings())) as conn:
        rows = list_users(conn)
    columns = [
        ("user_id", "id"),
        ("email", "email"),
        ("full_name", "name"),
        ("timezone", "time zone"),
        ("has_refresh_token", "token"),
    ]
    print_rows(rows, columns, as_json=as_json, wide=wide, empty="no users yet")
