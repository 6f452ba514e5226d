"""What every command shares: settings, the database URL, error reporting."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import NoReturn

import typer

from recomamp_pipelines.crypto import EncryptionKeyError
from recomamp_pipelines.db.connection import DatabaseUnavailableError
from recomamp_pipelines.db.embedded import EmbeddedServerError
from recomamp_pipelines.db.migrations import MigrationError
from recomamp_pipelines.settings import Settings, SettingsError, load_settings


def fail(message: str, code: int = 1) -> NoReturn:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


#: Exceptions whose message is meant for the user; anything else keeps its traceback.
USER_ERRORS: tuple[type[BaseException], ...] = (
    SettingsError,
    MigrationError,
    DatabaseUnavailableError,
    EmbeddedServerError,
    EncryptionKeyError,
)


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn the project's own errors into one clear line on stderr and exit code 1."""
    try:
        yield
    except USER_ERRORS as exc:
        fail(str(exc))


def settings() -> Settings:
    with user_errors():
        return load_settings()


def read_secret(prompt: str, reader: Callable[[], str] | None = None) -> str:
    """Read a secret from standard input: hidden prompt on a terminal, one line otherwise."""
    if sys.stdin.isatty():
        value = typer.prompt(prompt, hide_input=True)
    else:
        value = (reader or sys.stdin.readline)()
    return value.strip()
