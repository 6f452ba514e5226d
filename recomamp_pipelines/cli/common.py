"""What every command shares: settings, the database URL, error reporting."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, NoReturn

import psycopg
import typer
from rich.console import Console
from rich.table import Table

from recomamp_pipelines.amc.errors import AmcAuthError, AmcError, AmcRetryableError
from recomamp_pipelines.crypto import EncryptionKeyError
from recomamp_pipelines.db.connection import DatabaseUnavailableError
from recomamp_pipelines.db.embedded import EmbeddedServerError
from recomamp_pipelines.db.migrations import MigrationError
from recomamp_pipelines.settings import Settings, SettingsError, load_settings


def fail(message: str, code: int = 1) -> NoReturn:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


#: Exit codes of expected failures, one per cause, so that scripts can tell them apart.
EXIT_FAILED = 1
EXIT_AMC_CREDENTIALS_REFUSED = 2
EXIT_DATABASE_UNAVAILABLE = 3
EXIT_AMC_UNREACHABLE = 4

#: Exceptions whose message is meant for the user; anything else keeps its traceback.
USER_ERRORS: tuple[type[BaseException], ...] = (
    SettingsError,
    MigrationError,
    DatabaseUnavailableError,
    EmbeddedServerError,
    EncryptionKeyError,
    AmcError,
)


def exit_code_for(error: BaseException) -> int:
    """The exit code of an expected failure."""
    if isinstance(error, DatabaseUnavailableError | EmbeddedServerError) or isinstance(
        error.__cause__, psycopg.OperationalError
    ):
        return EXIT_DATABASE_UNAVAILABLE
    if isinstance(error, AmcAuthError):
        return EXIT_AMC_CREDENTIALS_REFUSED
    if isinstance(error, AmcRetryableError):
        return EXIT_AMC_UNREACHABLE
    return EXIT_FAILED


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn the project's own errors into one clear line on stderr and a distinct exit code."""
    try:
        yield
    except USER_ERRORS as exc:
        fail(str(exc), exit_code_for(exc))


def settings() -> Settings:
    with user_errors():
        return load_settings()


JSON_OPTION = typer.Option(False, "--json", help="Print the rows as JSON (full values).")
WIDE_OPTION = typer.Option(False, "--wide", help="Never shorten a column (full ids).")


def print_rows(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[tuple[str, str]],
    *,
    as_json: bool,
    wide: bool,
    title: str | None = None,
    empty: str = "nothing to show",
) -> None:
    """Rows as a table of `columns` ((key, heading) pairs), or as JSON with every field."""
    if as_json:
        typer.echo(json.dumps([dict(row) for row in rows], default=str, indent=2))
        return
    if not rows:
        typer.echo(empty)
        return
    table = Table(*(heading for _, heading in columns), title=title)
    for row in rows:
        table.add_row(*("" if row.get(key) is None else str(row[key]) for key, _ in columns))
    Console(width=100_000 if wide else None, soft_wrap=wide).print(table)


def read_secret(prompt: str, reader: Callable[[], str] | None = None) -> str:
    """Read a secret from standard input: hidden prompt on a terminal, one line otherwise."""
    if sys.stdin.isatty():
        value = typer.prompt(prompt, hide_input=True)
    else:
        value = (reader or sys.stdin.readline)()
    return value.strip()
