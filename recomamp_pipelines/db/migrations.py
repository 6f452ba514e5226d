"""Versioned migrations of the RecomAMP schema, the files in `sql/migrations/`.

yoyo reads, orders and records the migrations (its `_yoyo_*` tables, which cannot collide with
the `alembic_version` table of Dagster's storage). This module adds what yoyo lacks:

- one transaction per migration that holds its statements, yoyo's record of it and the sha256
  of its file: yoyo's own `apply_one` runs the statements on a second connection and records
  them in a later transaction, so a crash in between leaves a migration applied but unrecorded;
- a checksum check: a file changed after it was applied stops `upgrade` before anything runs
  (yoyo's "hash" is a hash of the migration id, not of its content);
- a PostgreSQL advisory lock around the whole upgrade, released by the server if the process
  dies (yoyo's lock is a row that outlives a crashed process);
- clear errors for an unreachable or read-only database, checked before anything is written.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from yoyo import read_migrations
from yoyo.backends.core.postgresql import PostgresqlPsycopgBackend
from yoyo.connections import DatabaseURI
from yoyo.exceptions import BadMigration
from yoyo.migrations import Migration, MigrationList, default_migration_table

from recomamp_pipelines.db.sql_files import load_sql

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "sql" / "migrations"

# pg_advisory_lock key shared by every process that migrates a RecomAMP database ("recomamp").
_ADVISORY_LOCK_KEY = 0x7265636F6D616D70
_DEFAULT_CONNECT_TIMEOUT_SECONDS = "10"
_READ_LOCK = threading.Lock()
_DRIVER_SUFFIX = re.compile(r"^(postgres(?:ql)?)\+psycopg2?://")


class MigrationError(RuntimeError):
    """The database cannot be migrated; the message names the database and the problem."""


@dataclass(frozen=True)
class MigrationStatus:
    """One migration file and whether the database has it."""

    id: str
    applied: bool
    applied_at: datetime | None
    # False only when the file differs from the one that was applied.
    checksum_ok: bool


@dataclass(frozen=True)
class _Target:
    """Connection parameters of one database and a password-free name for messages."""

    params: dict[str, str]

    @property
    def description(self) -> str:
        dbname = self.params.get("dbname") or self.params.get("user") or "(default)"
        host = self.params.get("host") or "the default socket"
        port = f":{self.params['port']}" if self.params.get("port") else ""
        return f"database {dbname!r} on {host}{port}"


@dataclass(frozen=True)
class _MigrationFile:
    id: str
    checksum: str
    migration: Migration


def upgrade(url: str, *, migrations_dir: Path | None = None) -> list[str]:
    """Apply pending migrations, each in its own transaction; return the ids applied now."""
    target = _parse_url(url)
    files = _read_migration_files(migrations_dir or MIGRATIONS_DIR)
    with _connect(target) as lock_conn:
        _refuse_read_only(lock_conn, target)
        with _advisory_lock(lock_conn), _yoyo_backend(target) as backend:
            try:
                backend.ensure_internal_schema_updated()
                _run_in_transaction(backend, _query("create_checksum_table"))
                _run_in_transaction(backend, _query("lock_down_bookkeeping"))
                applied = _applied_migrations(backend.connection)
                recorded = _recorded_checksums(backend.connection)
            except psycopg.Error as exc:
                raise MigrationError(
                    f"cannot read the migration records of {target.description}: {_reason(exc)}"
                ) from exc
            _verify_applied(files, applied, recorded, target)
            _backfill_checksums(backend, files, applied, recorded, target)
            pending = backend.to_apply(_as_migration_list(files))
            checksums = {file.id: file.checksum for file in files}
            for migration in pending:
                _apply_one(backend, migration, checksums[migration.id], target)
            return [migration.id for migration in pending]


def status(url: str, *, migrations_dir: Path | None = None) -> list[MigrationStatus]:
    """Every migration file, in order, with whether and when it was applied; writes nothing."""
    target = _parse_url(url)
    files = _read_migration_files(migrations_dir or MIGRATIONS_DIR)
    with _connect(target) as conn:
        try:
            tables = conn.execute(_query("bookkeeping_tables")).fetchone()
            assert tables is not None
            has_migrations, has_checksums = tables
            applied = _applied_migrations(conn) if has_migrations else {}
            recorded = _recorded_checksums(conn) if has_checksums else {}
        except psycopg.Error as exc:
            raise MigrationError(
                f"cannot read the migration records of {target.description}: {_reason(exc)}"
            ) from exc
    return [
        MigrationStatus(
            id=file.id,
            applied=file.id in applied,
            applied_at=applied.get(file.id),
            checksum_ok=recorded.get(file.id, file.checksum) == file.checksum,
        )
        for file in files
    ]


def _parse_url(url: str) -> _Target:
    # yoyo wants a `postgresql+psycopg` scheme, libpq a plain one; libpq parses every URL form
    # (TCP, `?host=/socket/dir`, percent-encoded socket paths), so it does the parsing.
    libpq_url = _DRIVER_SUFFIX.sub(r"\1://", url.strip())
    try:
        params = {key: str(value) for key, value in conninfo_to_dict(libpq_url).items()}
    except psycopg.ProgrammingError:
        scheme = libpq_url.split("://", 1)[0] if "://" in libpq_url else "(none)"
        raise MigrationError(
            f"the database URL (scheme {scheme!r}) cannot be parsed: expected "
            "postgresql://user@host:port/dbname or postgresql://user@/dbname?host=/socket/dir"
        ) from None
    params.setdefault("connect_timeout", _DEFAULT_CONNECT_TIMEOUT_SECONDS)
    return _Target(params=params)


def _reason(exc: psycopg.Error) -> str:
    text = str(exc).strip()
    first_line = text.splitlines()[0] if text else type(exc).__name__
    return first_line.removeprefix("connection failed: ")


@contextmanager
def _connect(target: _Target) -> Iterator[psycopg.Connection[Any]]:
    try:
        conn = psycopg.connect(make_conninfo("", **target.params), autocommit=True)
    except psycopg.Error as exc:
        raise MigrationError(f"cannot connect to {target.description}: {_reason(exc)}") from exc
    with conn:
        yield conn


def _refuse_read_only(conn: psycopg.Connection[Any], target: _Target) -> None:
    state = conn.execute(_query("server_state")).fetchone()
    assert state is not None
    is_standby, is_read_only = state
    if is_standby or is_read_only:
        why = (
            "it is a standby in recovery"
            if is_standby
            else "its sessions start read-only (default_transaction_read_only is on)"
        )
        raise MigrationError(f"{target.description} is read-only: {why}; no migration was applied")


@contextmanager
def _advisory_lock(conn: psycopg.Connection[Any]) -> Iterator[None]:
    # Session-level: held across the per-migration transactions of the yoyo connection, and
    # released by the server should this process die.
    conn.execute("select pg_advisory_lock(%s)", (_ADVISORY_LOCK_KEY,))
    try:
        yield
    finally:
        if not conn.closed:
            conn.execute("select pg_advisory_unlock(%s)", (_ADVISORY_LOCK_KEY,))


@contextmanager
def _yoyo_backend(target: _Target) -> Iterator[PostgresqlPsycopgBackend]:
    params = dict(target.params)
    uri = DatabaseURI(
        scheme="postgresql+psycopg",
        username=None,
        password=None,
        hostname=None,
        port=None,
        database=params.pop("dbname", None),
        args=params,
    )
    try:
        backend = PostgresqlPsycopgBackend(uri, default_migration_table)
        backend.init_database()
    except psycopg.Error as exc:
        raise MigrationError(f"cannot connect to {target.description}: {_reason(exc)}") from exc
    with backend:
        yield backend


def _run_in_transaction(backend: PostgresqlPsycopgBackend, statement: str) -> None:
    with backend.transaction():
        backend.connection.execute(statement)


def _query(name: str) -> str:
    return load_sql("recomamp_pipelines.db.migration_queries", name)


def _read_migration_files(directory: Path) -> list[_MigrationFile]:
    if not directory.is_dir():
        raise MigrationError(f"the migrations folder {directory} does not exist")
    # yoyo resolves `-- depends:` through a process-wide registry keyed by id: read and resolve
    # one folder at a time so that concurrent upgrades cannot mix their objects.
    with _READ_LOCK:
        try:
            migrations = read_migrations(str(directory))
            for migration in migrations:
                migration.load()
        except BadMigration as exc:
            raise MigrationError(f"cannot read the migrations in {directory}: {exc}") from exc
    non_transactional = [m.id for m in migrations if not m.use_transactions]
    if non_transactional:
        raise MigrationError(
            f"migration {non_transactional[0]} is marked `transactional: false`: every migration "
            "is applied in one transaction with its record, so none may opt out"
        )
    return [
        _MigrationFile(id=m.id, checksum=_file_checksum(Path(m.path)), migration=m)
        for m in migrations
    ]


def _as_migration_list(files: list[_MigrationFile]) -> MigrationList:
    return MigrationList(file.migration for file in files)


def _file_checksum(path: Path) -> str:
    # Line endings are normalised so that a checkout with CRLF is the same migration.
    content = path.read_bytes().replace(b"\r\n", b"\n")
    return hashlib.sha256(content).hexdigest()


def _applied_migrations(conn: psycopg.Connection[Any]) -> dict[str, datetime]:
    return {row[0]: row[1] for row in conn.execute(_query("applied_migrations"))}


def _recorded_checksums(conn: psycopg.Connection[Any]) -> dict[str, str]:
    return {row[0]: row[1] for row in conn.execute(_query("recorded_checksums"))}


def _verify_applied(
    files: list[_MigrationFile],
    applied: dict[str, datetime],
    recorded: dict[str, str],
    target: _Target,
) -> None:
    known = {file.id: file for file in files}
    for migration_id in sorted(applied):
        file = known.get(migration_id)
        if file is None:
            raise MigrationError(
                f"migration {migration_id} is applied to {target.description} but there is no "
                "such file: the database is newer than this code"
            )
        checksum = recorded.get(migration_id)
        if checksum is not None and checksum != file.checksum:
            raise MigrationError(
                f"migration {migration_id} was changed after it was applied to "
                f"{target.description} (checksum {file.checksum} != {checksum} recorded): "
                "add a new migration instead of editing an applied one"
            )


def _backfill_checksums(
    backend: PostgresqlPsycopgBackend,
    files: list[_MigrationFile],
    applied: dict[str, datetime],
    recorded: dict[str, str],
    target: _Target,
) -> None:
    """Record the checksum of migrations applied without this runner (e.g. by yoyo's CLI)."""
    missing = [f for f in files if f.id in applied and f.id not in recorded]
    if not missing:
        return
    try:
        with backend.transaction():
            for file in missing:
                backend.connection.execute(
                    _query("record_checksum"),
                    {"migration_id": file.id, "checksum": file.checksum},
                )
    except psycopg.Error as exc:
        raise MigrationError(
            f"cannot record migration checksums in {target.description}: {_reason(exc)}"
        ) from exc


def _apply_one(
    backend: PostgresqlPsycopgBackend, migration: Migration, checksum: str, target: _Target
) -> None:
    try:
        with backend.transaction():
            migration.process_steps(backend, "apply")
            backend.log_migration(migration, "apply")
            backend.mark_one(migration, log=False)
            backend.connection.execute(
                _query("record_checksum"),
                {"migration_id": migration.id, "checksum": checksum},
            )
    except psycopg.Error as exc:
        raise MigrationError(
            f"migration {migration.id} failed on {target.description} and was rolled back: "
            f"{_describe_database_error(exc)}"
        ) from exc


def _describe_database_error(exc: psycopg.Error) -> str:
    diag = exc.diag
    parts = [diag.message_primary or _reason(exc)]
    if diag.message_detail:
        parts.append(diag.message_detail)
    if diag.context:
        parts.append(diag.context.strip().splitlines()[0])
    return "; ".join(parts)
