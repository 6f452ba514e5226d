"""`recomamp keys`: the encryption keys of stored tokens."""

from __future__ import annotations

import typer

from recomamp_pipelines.cli.common import settings, user_errors
from recomamp_pipelines.crypto import TokenCipher
from recomamp_pipelines.db.connection import connect, database_url
from recomamp_pipelines.keys import rotate_tokens

app = typer.Typer(help="The encryption keys of stored tokens (RECOMAMP_ENCRYPTION_KEYS).")


@app.command()
def rotate(
    page_size: int = typer.Option(
        100, "--page-size", min=1, help="Users re-encrypted per transaction."
    ),
    pause_seconds: float = typer.Option(
        0.0, "--pause-seconds", min=0.0, help="Pause between pages, to spare a busy database."
    ),
) -> None:
    """Re-encrypt every stored token under the newest key (the first in the list).

    Safe to stop at any moment and to run again: old keys still decrypt what is not rotated
    yet, and tokens already under the newest key are skipped. Remove an old key only after a
    run that reports nothing left to do.
    """
    config = settings()
    with user_errors():
        cipher = TokenCipher.from_settings(config)
        with connect(database_url(config), autocommit=True) as conn:
            report = rotate_tokens(
                conn,
                cipher,
                page_size=page_size,
                pause_seconds=pause_seconds,
                on_rotated=lambda email: typer.echo(f"re-encrypted the tokens of {email}"),
            )
    typer.echo(
        f"{len(report.rotated)} user(s) re-encrypted under the newest key, "
        f"{report.already_current} already under it."
    )
    for entry in report.changed_meanwhile:
        typer.echo(f"changed while rotating, run again: {entry}")
    for entry in report.unreadable:
        typer.secho(
            f"no configured key opens the stored {entry}; left unchanged", fg=typer.colors.RED
        )
    if not report.complete:
        raise typer.Exit(1)
