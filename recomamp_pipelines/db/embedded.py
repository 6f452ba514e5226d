"""The project's own PostgreSQL, used when DATABASE_URL is unset.

It is a `pgserver` instance whose data lives in `$RECOMAMP_HOME/pgdata`. It listens on a Unix
socket only (never on a TCP port, so it cannot be confused with another server), is started on
demand, shared by concurrent commands (pgserver serialises start-up with a file lock) and keeps
running until `recomamp db stop`.
"""

from __future__ import annotations

import logging
import warnings
from contextlib import suppress
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

EMBEDDED_DATABASE = "recomamp"

log = logging.getLogger(__name__)


class EmbeddedServerError(RuntimeError):
    """The embedded PostgreSQL could not be started or stopped."""


def _server(data_dir: Path) -> Any:  # pgserver's server class is not public
    # pgserver keeps its lock file in the runtime dir; without XDG_RUNTIME_DIR it says so
    # loudly on every command and then uses /tmp, which is what we want anyway.
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    import pgserver

    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        return pgserver.get_server(data_dir, cleanup_mode=None)
    except Exception as exc:
        raise EmbeddedServerError(
            f"could not start the embedded PostgreSQL in {data_dir}: {exc}"
        ) from exc


def ensure_embedded(data_dir: Path, database: str = EMBEDDED_DATABASE) -> str:
    """Start (or reuse) the embedded server and return the URL of `database` on it."""
    server = _server(data_dir)
    admin_url = server.get_uri()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute(
            "select 1 from pg_database where datname = %s", (database,)
        ).fetchone()
        if not exists:
            # Another command may create it at the same moment.
            with suppress(psycopg.errors.DuplicateDatabase):
                conn.execute(sql.SQL("create database {}").format(sql.Identifier(database)))
    url: str = server.get_uri(database=database)
    return url


def embedded_running(data_dir: Path) -> bool:
    return (data_dir / "postmaster.pid").exists()


def stop_embedded(data_dir: Path) -> bool:
    """Stop the embedded server; False if it was not running."""
    if not embedded_running(data_dir):
        return False
    from pgserver import _commands

    server = _server(data_dir)
    try:
        _commands.pg_ctl(  # type: ignore[attr-defined]
            ["-w", "stop"], pgdata=data_dir, user=server.system_user
        )
    except Exception as exc:
        raise EmbeddedServerError(
            f"could not stop the embedded PostgreSQL in {data_dir}: {exc}"
        ) from exc
    return True
