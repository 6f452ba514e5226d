"""Connections to the RecomAMP database."""

from __future__ import annotations

import contextlib
from urllib.parse import parse_qs, quote, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg.conninfo import conninfo_to_dict

from recomamp_pipelines.db.embedded import ensure_embedded
from recomamp_pipelines.settings import Settings

DAGSTER_SCHEMA = "dagster"


class DatabaseUnavailableError(RuntimeError):
    """The database named by the settings cannot be reached."""


def database_url(settings: Settings) -> str:
    """The RecomAMP database URL: DATABASE_URL, or the embedded server started on demand."""
    if settings.database_url:
        return settings.database_url
    return ensure_embedded(settings.embedded_data_dir)


def describe_url(url: str) -> str:
    """A URL without its password, fit for messages and logs."""
    parts = urlsplit(url)
    host = parts.hostname or parse_qs(parts.query).get("host", ["local socket"])[0]
    port = f":{parts.port}" if parts.port else ""
    user = f"{parts.username}@" if parts.username else ""
    return f"{parts.scheme}://{user}{host}{port}{parts.path}"


def psql_url(url: str) -> str:
    """The URL as psql takes it, without its password; a Unix socket goes in `?host=`.

    A socket directory must not sit in the URL's host part: psql would read it as a host name,
    or (with no host) use its own default socket, which belongs to another server.
    """
    info = conninfo_to_dict(url)
    user = quote(str(info.get("user") or ""), safe="")
    database = quote(str(info.get("dbname") or ""), safe="")
    host = str(info.get("host") or "")
    port = str(info.get("port") or "")
    query: dict[str, str] = {
        key: str(value)
        for key, value in info.items()
        if key not in ("user", "password", "dbname", "host", "port") and value is not None
    }
    if host.startswith("/") or not host:
        if host:
            query = {"host": host, **({"port": port} if port else {}), **query}
        netloc = f"{user}@" if user else ""
    else:
        netloc = f"{user}@{host}" if user else host
        if port:
            netloc += f":{port}"
    suffix = f"?{urlencode(query, safe='/')}" if query else ""
    return f"postgresql://{netloc}/{database}{suffix}"


def connect(url: str, *, autocommit: bool = False, connect_timeout: int = 10) -> psycopg.Connection:
    """Open a connection, turning connection failures into one clear error."""
    try:
        return psycopg.connect(url, autocommit=autocommit, connect_timeout=connect_timeout)
    except psycopg.OperationalError as exc:
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise DatabaseUnavailableError(
            f"cannot connect to the RecomAMP database at {describe_url(url)}: {reason}"
        ) from exc


def dagster_storage_url(url: str) -> str:
    """Dagster's storage URL on the same server: its own schema, through psycopg2.

    dagster-postgres needs the psycopg2 driver (SQLAlchemy 2.1 would map `postgresql://` to
    psycopg 3, which breaks its run storage), and its own `alembic_version` table lives in the
    `dagster` schema, apart from ours.
    """
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    query["options"] = [f"-csearch_path={DAGSTER_SCHEMA}"]
    scheme = "postgresql+psycopg2"
    return urlunsplit(
        (scheme, parts.netloc, parts.path, urlencode(query, doseq=True), parts.fragment)
    )


def ensure_dagster_schema(url: str) -> None:
    """The schema of Dagster's storage. Processes started together may all create it: `if not
    exists` does not stop two at once from colliding, so the one that loses finds it there."""
    with (
        connect(url, autocommit=True) as conn,
        contextlib.suppress(psycopg.errors.UniqueViolation),
    ):
        conn.execute(f"create schema if not exists {DAGSTER_SCHEMA}")
