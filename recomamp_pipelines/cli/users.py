"""`recomamp users`: RecomAMP users and their Amazon credentials."""

from __future__ import annotations

import typer

from recomamp_pipelines.cli.common import fail, read_secret, settings, user_errors
from recomamp_pipelines.crypto import TokenCipher
from recomamp_pipelines.db.connection import connect, database_url
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
