"""The database a benchmark runs on: fresh and migrated, dropped afterwards."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from recomamp_pipelines.db.migrations import upgrade


def _with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, parts.fragment))


@contextmanager
def bench_database(prefix: str) -> Iterator[str]:
    """A freshly migrated database `<prefix>_<random>` on DATABASE_URL's server, or on a
    throwaway pgserver when DATABASE_URL is unset."""
    admin = os.environ.get("DATABASE_URL")
    server = None
    pg_dir = None
    if not admin:
        import pgserver

        pg_dir = tempfile.TemporaryDirectory(prefix="bench-pg-")
        server = pgserver.get_server(pg_dir.name, cleanup_mode="delete")
        admin = server.get_uri()
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    url = _with_database(admin, name)
    try:
        upgrade(url)
        yield url
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(
                sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
            )
        if server is not None:
            server.cleanup()
        if pg_dir is not None:
            pg_dir.cleanup()
